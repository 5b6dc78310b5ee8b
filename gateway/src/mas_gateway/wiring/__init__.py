"""How `GatewayService` builds its parts: one module per part, each a few small functions.

`connection` opens Redis (fail closed); `core` holds what every builder uses;
`policy` loads, records and watches the policies (fail closed); `processing` builds
the stage chain, the committer and the batch processor; `background` starts the
tasks that run beside consuming (audit checkpointer, circuit keeper, presence);
`consuming` builds the outbox consumer. A builder that starts something registers
its stop on `Core.closers`, so the gateway stops its parts in the reverse of the
order it started them.
"""
