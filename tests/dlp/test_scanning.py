"""RuleScanner's in-process path: payloads are cached once, one-off field texts never."""

from __future__ import annotations

from mas_gateway.dlp import DLPEngine
from mas_gateway.dlp.engine.engine import ScanCache
from mas_gateway.dlp.engine.scanning import RuleScanner


async def test_in_process_scans_cache_the_payloads_and_never_the_one_off_texts(
    engine: DLPEngine,
) -> None:
    scanner = RuleScanner(engine, workers=0)  # no worker processes: scanned in this process
    payload = {"text": "write to lena.fischer+scan-cache@example.com about the invoice"}
    one_off = ["lena.fischer+one-off@example.com asked for the invoice"]

    scans = await scanner.scan([payload], [one_off])

    assert [f.entity_type for f in scans[0].findings] == ["EMAIL_ADDRESS"]
    assert [f.entity_type for f in scans[1].findings] == ["EMAIL_ADDRESS"]
    assert engine.cache.get(ScanCache.key(payload)) == scans[0]
    assert engine.cache.get(ScanCache.key(one_off)) is None
