# ruff: noqa: E501
"""Write everyday.jsonl: everyday sentences and form payloads, labelled, for the DLP probe set.

Deterministic: ``uv run python tests/dlp/data/make_everyday.py`` (mimesis is pinned in uv.lock).

Sources, kept apart from what the detector uses:

- people, streets, cities and companies come from mimesis (its own per-locale data files),
  never from Faker, whose name lists the PERSON recognizer uses as its lexicon; a few
  Arabic-origin names with ``al-``/``el-`` particles and the leetspeak spellings are
  written here by hand;
- phone numbers are random digits laid out in each country's national or international
  style (masks written here from the public numbering plans), not drawn from libphonenumber;
- cards, IBANs and SSNs are generated with valid check digits (Luhn, mod 97, SSA rules);
- sentence templates are written here in styles the older probe set lacks: a given name or
  a surname alone, middle initials without a period, particles and diacritics, lower-case
  and leetspeak names, extensions and national phone formats, other card brands and lengths,
  licences with letters, dates of birth in forms, identifiers split across fields, reversed
  or sent as JSON numbers, and clean text with streets, places, companies, versions and
  phone-like numbers.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mimesis import Address, Finance, Person
from mimesis.locales import Locale

OUT = Path(__file__).with_name("everyday.jsonl")
R = random.Random(20261124)

Entity = dict[str, str]
CASES: list[tuple[str, Any, list[Entity]]] = []

LOCALES = [
    "en", "en-gb", "en-au", "en-ca", "de", "de-at", "fr", "es", "es-mx", "it", "nl", "pl",
    "pt", "pt-br", "tr", "da", "sv", "no", "fi", "cs", "sk", "hu", "hr", "et", "is",
]  # fmt: skip
PEOPLE = {loc: Person(Locale(loc), seed=R.randint(0, 10**9)) for loc in LOCALES}
PLACES = {loc: Address(Locale(loc), seed=R.randint(0, 10**9)) for loc in LOCALES}
FIRMS = {loc: Finance(Locale(loc), seed=R.randint(0, 10**9)) for loc in LOCALES}

ARABIC_GIVEN = [
    "Khalid",
    "Yasmin",
    "Omar",
    "Nour",
    "Samir",
    "Layla",
    "Tarek",
    "Rania",
    "Hisham",
    "Dalia",
]
ARABIC_FAMILY = ["Rashid", "Masri", "Hakim", "Zahrani", "Amin", "Sayed", "Khatib", "Najjar"]
PARTICLES = ["van", "de", "van der", "von", "da", "di", "dos", "le", "du", "ter"]
LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})


def _latin(text: str) -> bool:
    """Latin script only (letters up to Latin Extended-B, digits, spaces and name punctuation)."""
    return all(ord(c) < 0x250 and (c.isalnum() or c in " '-.,") for c in text)


def person(loc: str | None = None) -> tuple[str, str]:
    """(first, last) from a random Latin-script locale of mimesis."""
    while True:
        p = PEOPLE[loc or R.choice(LOCALES)]
        first, last = p.first_name(), p.last_name()
        if _latin(first + last) and first.isalpha() and len(first) > 2 and len(last) > 2:
            return first, last


def first() -> str:
    return person()[0]


def last() -> str:
    return person()[1]


def full() -> str:
    f, la = person()
    return f"{f} {la}"


def city() -> str:
    while True:
        c = PLACES[R.choice(LOCALES)].city()
        if _latin(c):
            return c


def street() -> str:
    loc = R.choice(["de", "de-at", "fr", "es", "it", "nl", "en", "en-gb", "pl", "pt", "sv", "da"])
    while True:
        a = PLACES[loc].address()
        if _latin(a):
            return a


def company() -> str:
    return FIRMS[R.choice(LOCALES)].company()


def digits(n: int) -> str:
    return "".join(R.choice(string.digits) for _ in range(n))


def mask(pattern: str) -> str:
    """Replace each # with a random digit and each N with 2-9."""
    return "".join(
        R.choice(string.digits) if c == "#" else R.choice("23456789") if c == "N" else c
        for c in pattern
    )


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def card(prefix: str, length: int) -> str:
    body = prefix + digits(length - len(prefix) - 1)
    return body + luhn_digit(body)


def grouped(number: str, sizes: list[int], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        out.append(number[i : i + s])
        i += s
    if i < len(number):
        out.append(number[i:])
    return sep.join(p for p in out if p)


def ssn_digits() -> str:
    while True:
        area = R.randint(1, 899)
        if area != 666:
            return f"{area:03d}{R.randint(1, 99):02d}{R.randint(1, 9999):04d}"


def ssn() -> str:
    d = ssn_digits()
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


IBAN_BBAN: dict[str, Callable[[], str]] = {
    "GB": lambda: "".join(R.choice(string.ascii_uppercase) for _ in range(4)) + digits(14),
    "DE": lambda: digits(18),
    "FR": lambda: (
        digits(10)
        + "".join(R.choice(string.ascii_uppercase + string.digits) for _ in range(11))
        + digits(2)
    ),
    "ES": lambda: digits(20),
    "NL": lambda: "".join(R.choice(string.ascii_uppercase) for _ in range(4)) + digits(10),
    "IE": lambda: "".join(R.choice(string.ascii_uppercase) for _ in range(4)) + digits(14),
    "PT": lambda: digits(21),
    "SE": lambda: digits(20),
    "NO": lambda: digits(11),
    "DK": lambda: digits(14),
    "FI": lambda: digits(14),
    "LU": lambda: (
        digits(3) + "".join(R.choice(string.ascii_uppercase + string.digits) for _ in range(13))
    ),
    "HU": lambda: digits(24),
    "RO": lambda: (
        "".join(R.choice(string.ascii_uppercase) for _ in range(4))
        + "".join(R.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    ),
    "TR": lambda: digits(5) + "0" + digits(16),
}


def iban(country: str | None = None, spaced: bool = False) -> str:
    country = country or R.choice(list(IBAN_BBAN))
    bban = IBAN_BBAN[country]()
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    value = f"{country}{98 - int(num) % 97:02d}{bban}"
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if spaced else value


def public_ipv4() -> str:
    while True:
        a = R.randint(11, 223)
        if a not in (100, 127, 169, 172, 192):
            return f"{a}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"


def ipv6() -> str:
    groups = [f"{R.randint(0x2001, 0x2A0F):x}"] + [f"{R.randint(0, 0xFFFF):x}" for _ in range(7)]
    return ":".join(groups)


MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]  # fmt: skip


def dob() -> str:
    y, m, d = R.randint(1938, 2006), R.randint(1, 12), R.randint(1, 28)
    style = R.randrange(7)
    return [
        f"{m:02d}/{d:02d}/{y}",
        f"{y}-{m:02d}-{d:02d}",
        f"{d:02d}.{m:02d}.{y}",
        f"{MONTHS[m - 1]} {d}, {y}",
        f"{d} {MONTHS[m - 1][:3]} {y}",
        f"{m}/{d}/{y % 100:02d}",
        f"{d:02d}-{MONTHS[m - 1][:3]}-{y}",
    ][style]


# Phone layouts by country: national and international styles, random digits.
PHONE_MASKS = [
    "(N##) N##-####", "N##-N##-####", "N##.N##.####", "+1-N##-N##-####", "001-N##-N##-####",
    "N##-N##-####x###", "(N##)N##-####x####", "+1 (N##) N##-#### ext. ##", "N##-N##-#### x#####",
    "020 7### ####", "0161 ### ####", "07### ######", "+44 7### ######", "+44 (0)20 #### ####",
    "+44 (0)1632 ######", "0800 ### ####", "030 ########", "0151 #######", "+49 (0)89 #######",
    "06 ## ## ## ##", "+33 1 ## ## ## ##", "01 ## ## ## ##", "+34 6## ### ###", "9## ## ## ##",
    "+39 3## ### ####", "06-########", "+31 20 ### ####", "+91 9#### #####", "04## ### ###",
    "(02) #### ####", "+61 4## ### ###", "(11) 9####-####", "090-####-####", "+81 90-####-####",
    "+48 ### ### ###", "+46 70 ### ## ##", "+45 ## ## ## ##", "+353 8# ### ####", "+27 8# ### ####",
    "+52 55 #### ####",
]  # fmt: skip
PHONE_WORDS = [
    "phone",
    "call",
    "mobile",
    "cell",
    "tel",
    "ring",
    "reach",
    "number",
    "text",
    "whatsapp",
]

# ---------------------------------------------------------------------------- cases


def add(category: str, payload: Any, *entities: tuple[str, str]) -> None:
    CASES.append((category, payload, [{"type": t, "value": v} for t, v in entities]))


def wrap(text: str) -> Any:
    """The text in one of the payload shapes agents send."""
    shape = R.randrange(6)
    if shape == 0:
        return {"text": text}
    if shape == 1:
        return {"message": text, "priority": R.choice(["low", "normal", "high"])}
    if shape == 2:
        return {"messages": [{"role": "user", "content": text}]}
    if shape == 3:
        return {"task": R.choice(["relay", "summarise", "notify"]), "payload": {"body": text}}
    if shape == 4:
        return {"from_agent": "assistant-2", "to_agent": "planner", "content": text}
    return {"note": text, "ticket": f"T-{digits(5)}"}


SINGLE_NAME = [
    "{a} is from {city}.",
    "{a} is from {city} and moved here last spring.",
    "Please remove my kid {a} from the will.",
    "I want to remove my son {a} from the trust fund.",
    "{a} shouted at {b} during the standup.",
    "Yesterday {a} told {b} the deal was off.",
    "Can you ask {a} whether the boxes arrived?",
    "Tell {a} I will be late tonight.",
    "{a} lost his wallet on the train again.",
    "My daughter {a} starts school in September.",
    "We are going to {a}'s place for dinner.",
    "{a} and {b} are getting married in June.",
    "I had lunch with {a} today.",
    "Did {a} pay you back for the tickets?",
    "Send the slides to {a} before noon.",
    "Our neighbour {a} has a new dog.",
    "{a} said the car needs new tyres.",
    "Grandma {a} turns ninety next week.",
    "Can {a} pick up the kids at four?",
    "I think {a} forgot the meeting.",
    "{a} works night shifts at the warehouse.",
    "Please cc {a} on the reply.",
    "Mr. {l} will sign the papers tomorrow.",
    "{l} called about the leak upstairs.",
    "Ask {l} from accounting for the receipt.",
    "Thanks {a}, see you on Friday!",
    "The landlord, {l}, wants the rent by Monday.",
    "I'm not sure {a} got my message.",
    "hey {a}, are you coming to the party?",
    "{a} texted me that the flight is delayed.",
]
FULL_NAME = [
    "{n} is from {city}.",
    "{n} will join the call at 3pm.",
    "Please update the address for {n}.",
    "The package for {n} was left at reception.",
    "{n} shouted at the waiter.",
    "I spoke with {n} about the lease.",
    "Could you book a table for {n}?",
    "Invite {n} to the review.",
    "{n} resigned this morning.",
    "Flowers were delivered to {n} yesterday.",
    "Our new tenant is {n}.",
    "The car is registered to {n}.",
    "Reminder: {n} has the keys.",
    "Remove my kid {n} from the will.",
    "The award goes to {n}!",
]


def name_cases() -> None:
    for _ in range(70):
        t = R.choice(SINGLE_NAME)
        a, b, la = first(), first(), last()
        if R.random() < 0.3:
            a = last()
        text = t.format(a=a, b=b, l=la, city=city())
        ents = [("PERSON", v) for k, v in (("{a}", a), ("{b}", b), ("{l}", la)) if k in t]
        add("pii", wrap(text), *ents)
    for _ in range(45):
        t = R.choice(FULL_NAME)
        f, la = person()
        kind = R.randrange(7)
        if kind == 0:
            n = f"{f} {R.choice(string.ascii_uppercase)} {la}"  # middle initial, no period
        elif kind == 1:
            n = f"{f} {R.choice(PARTICLES)} {la}"
        elif kind == 2:
            n = f"{R.choice(ARABIC_GIVEN)} {R.choice(['al-', 'el-', 'Al-', 'Al '])}{R.choice(ARABIC_FAMILY)}"
        elif kind == 3:
            n = f"{f} {R.choice(string.ascii_uppercase)}. {la}"
        else:
            n = f"{f} {la}"
        add("pii", wrap(t.format(n=n, city=city())), ("PERSON", n))
    for _ in range(16):
        f, la = person(R.choice(["en", "en-gb", "de", "fr", "es", "it", "nl"]))
        n = f"{f} {la}".lower()
        if R.random() < 0.4:
            n = n.translate(LEET)
        t = R.choice([
            "talked to {n} today, she's fine with the plan",
            "lol {n} just called me",
            "can u send this to {n} pls",
            "{n} is my emergency contact",
            "meeting {n} at the cafe at 5",
            "ask {n} for the wifi password",
        ])  # fmt: skip
        add("pii", wrap(t.format(n=n)), ("PERSON", n))


def phone_cases() -> None:
    templates = [
        "You can reach me at {p}.",
        "Call {p} to confirm the appointment.",
        "My new mobile number is {p}",
        "Please ring the office on {p} after 9.",
        "{n}'s phone: {p}",
        "Text me at {p} when you land.",
        "Contact: {n}, tel. {p}",
        "whatsapp {p} if the doorbell doesn't work",
        "If nobody answers, try {p}.",
        "Phone number for the delivery: {p}",
    ]
    for _ in range(70):
        p = mask(R.choice(PHONE_MASKS))
        t = R.choice(templates)
        n = full()
        ents = [("PHONE_NUMBER", p)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pii", wrap(t.format(p=p, n=n)), *ents)
    for _ in range(8):  # short local numbers and extensions with context
        p = mask(R.choice(["N##-####", "N## ####", "ext. ####", "x####"]))
        t = R.choice([
            "Call the front desk at {p} if the printer jams.",
            "Her direct line is {p}.",
            "Dial {p} from any hotel room for room service.",
        ])  # fmt: skip
        add("pii", wrap(t.format(p=p)), ("PHONE_NUMBER", p))
    for loc in LOCALES[:12]:  # mimesis's own phone layouts
        p = PEOPLE[loc].phone_number()
        add(
            "pii",
            {"contact": {"name": (n := full()), "phone": p}},
            ("PERSON", n),
            ("PHONE_NUMBER", p),
        )


CARDS = [
    ("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15),
    ("6011", 16), ("65", 16), ("6011", 19), ("3528", 16), ("3589", 16), ("3530", 19), ("2131", 15),
    ("1800", 15), ("36", 14), ("300", 14), ("62", 16), ("62", 19), ("6759", 19), ("5018", 16),
    ("6304", 18), ("2200", 16), ("81", 16),
]  # fmt: skip


def card_cases() -> None:
    templates = [
        "Charge it to my card {c}, thanks.",
        "My credit card number is {c}.",
        "Card: {c} exp 09/28",
        "Use the JCB card {c} for the hotel.",
        "pay with {c} please, the visa one",
        "Debit card {c} was declined twice.",
        "{n} paid with card number {c}.",
    ]
    for _ in range(50):
        prefix, length = R.choice(CARDS)
        number = card(prefix, length)
        style = R.randrange(4)
        if style == 0:
            c = number
        elif style == 1:
            c = grouped(number, [4, 4, 4, 4, 3], " ")
        elif style == 2:
            c = grouped(number, [4, 4, 4, 4, 3], "-")
        else:
            c = grouped(number, [4, 6, 5] if length == 15 else [4, 4, 4, 4, 3], " ")
        t = R.choice(templates)
        n = full()
        ents = [("CREDIT_CARD", c)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pci", wrap(t.format(c=c, n=n)), *ents)


def id_cases() -> None:
    for _ in range(30):
        s = ssn() if R.random() < 0.7 else ssn_digits()
        if R.random() < 0.2:
            s = s.replace("-", " ")
        t = R.choice([
            "My social security number is {s}.",
            "SSN {s} for the tax form.",
            "{n}'s social is {s}",
            "the ssn on file is {s}, please verify",
            "Employee {n}, SSN: {s}",
        ])  # fmt: skip
        n = full()
        ents = [("US_SSN", s)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pii", wrap(t.format(s=s, n=n)), *ents)
    for _ in range(30):
        i = iban(spaced=R.random() < 0.5)
        if R.random() < 0.15:
            i = i.lower()
        t = R.choice([
            "Please wire the deposit to IBAN {i}.",
            "My bank account: {i}",
            "Refund to {i} (account holder {n}).",
            "Transfer the rent to {i} by the 1st.",
            "IBAN: {i}",
        ])  # fmt: skip
        n = full()
        ents = [("IBAN_CODE", i)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pci", wrap(t.format(i=i, n=n)), *ents)
    for _ in range(25):
        ip = public_ipv4() if R.random() < 0.8 else ipv6()
        t = R.choice([
            "Login from {ip} was blocked.",
            "My home IP is {ip}, can you whitelist it?",
            "The attacker connected from {ip}.",
            "user logged in from ip {ip} at 04:12",
            "client address {ip} exceeded the rate limit",
        ])  # fmt: skip
        add("pii", wrap(t.format(ip=ip)), ("IP_ADDRESS", ip))
    dl_masks = [
        "A#######", "D###-####-####", "S###-###-##-###-#", "########", "### ### ###", "WDL#####",
        "K##-##-####", "H##########", "#########", "F###-###-##-###-#", "A##-###-###",
    ]  # fmt: skip
    for _ in range(35):
        dl = "".join(
            R.choice(string.ascii_uppercase) if c.isalpha() and c not in "WDL" else c
            for c in mask(R.choice(dl_masks))
        )
        if R.random() < 0.2:
            dl = dl.lower()
        t = R.choice([
            "My driver's license number is {d}.",
            "Driving licence: {d}",
            "DL# {d}, issued in Ohio",
            "license no {d} expires next year",
            "Please copy the drivers license {d} into the rental form.",
            "{n} showed licence {d} at the desk.",
        ])  # fmt: skip
        n = full()
        ents = [("US_DRIVER_LICENSE", dl)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pii", wrap(t.format(d=dl, n=n)), *ents)
    for _ in range(35):
        d = dob()
        n = full()
        kind = R.randrange(7)
        if kind == 0:
            payload: Any = {"form": {"name": n, "dob": d, "city": city()}}
        elif kind == 1:
            payload = {"applicant": {"full_name": n, "birthday": d}}
        elif kind == 2:
            payload = wrap(f"{n} was born on {d} in {city()}.")
        elif kind == 3:
            payload = wrap(f"Name: {n}\nDOB: {d}\nBlood type: O+")
        elif kind == 4:
            payload = {"patient": {"name": n, "born": d, "ward": "4B"}}
        elif kind == 5:
            payload = {"csv": f"name,date_of_birth,plan\n{n},{d},basic\n"}
        else:
            payload = wrap(f"Registration for {n} (d.o.b. {d}) is complete.")
        add("phi", payload, ("PERSON", n), ("DATE_OF_BIRTH", d))
    for _ in range(25):
        n = full()
        e = (
            n.lower().replace(" ", R.choice([".", "_", ""])).replace("'", "")
            + R.choice(["", str(R.randint(1, 99))])
            + "@"
            + R.choice(
                [
                    "gmail.com",
                    "web.de",
                    "orange.fr",
                    "libero.it",
                    "outlook.com",
                    "hotmail.co.uk",
                    "yahoo.es",
                ]
            )
        )
        if not e.isascii():
            e = "".join(c for c in e if c.isascii())
        t = R.choice(["Email me at {e}.", "{n} <{e}>", "send it to {e} pls", "Contact {n} ({e})"])
        ents = [("EMAIL_ADDRESS", e)] + ([("PERSON", n)] if "{n}" in t else [])
        add("pii", wrap(t.format(e=e, n=n)), *ents)


def structure_cases() -> None:
    for _ in range(6):  # SSN as a JSON number or float
        d = ssn_digits()
        value: Any = int(d) if R.random() < 0.5 else float(int(d))
        add("evasion", {"employee": {"id": R.randint(100, 999), "ssn": value}}, ("US_SSN", d))
    for _ in range(4):  # SSN as a list of digits
        d = ssn_digits()
        add("evasion", {"record": {"ssn_digits": [int(c) for c in d]}}, ("US_SSN", d))
    for _ in range(4):  # SSN split over two fields
        d = ssn()
        add("evasion", {"ssn_part1": d[:6], "ssn_part2": d[7:], "note": "combine"},
            ("US_SSN", d[:6]), ("US_SSN", d[7:]))  # fmt: skip
    for _ in range(4):  # SSN split over two lines
        d = ssn()
        add("evasion", wrap(f"ssn first half: {d[:6]}\nsecond half: {d[7:]}"), ("US_SSN", d[:6]))
    for _ in range(4):  # SSN reversed
        d = ssn()[::-1]
        add("evasion", wrap(f"my ssn backwards is {d}"), ("US_SSN", d))
    for _ in range(6):  # card split over two fields
        number = card(*R.choice(CARDS[:12]))
        half = len(number) // 2
        a, b = grouped(number[:half], [4, 4], " "), grouped(number[half:], [4, 4], " ")
        add("evasion", {"card_first": a, "card_second": b, "exp": "11/27"},
            ("CREDIT_CARD", a), ("CREDIT_CARD", b))  # fmt: skip
    for _ in range(4):  # card as a JSON number
        number = card(*R.choice(CARDS[:12]))
        add(
            "evasion",
            {"payment": {"card_number": int(number), "cvv": R.randint(100, 999)}},
            ("CREDIT_CARD", number),
        )
    for _ in range(3):  # card reversed
        number = card(*R.choice(CARDS[:12]))
        add("evasion", wrap(f"card number reversed: {number[::-1]}"), ("CREDIT_CARD", number[::-1]))
    for _ in range(4):  # mixed case
        i = iban(spaced=True)
        i = "".join(c.lower() if R.random() < 0.5 else c for c in i)
        add("evasion", wrap(f"IbAn for the refund: {i}"), ("IBAN_CODE", i))
    for _ in range(3):
        d = ssn()
        add("evasion", wrap(f"sOcIaL sEcUrItY nUmBeR {d}"), ("US_SSN", d))


CLEAN = [
    "Version {v} fixes the login crash.",
    "Upgrade the agent to build {v} before Friday.",
    "Firmware {v} is rolling out to all routers.",
    "The meeting moved to room {r}.",
    "Order {o} shipped this morning.",
    "Invoice total: {m} EUR, due in 30 days.",
    "Tracking number {o} shows the parcel in transit.",
    "Please restart service {w} on node {r}.",
    "The quarterly report is on page {r}.",
    "Will you send the report by Monday?",
    "May is our busiest month.",
    "Grant the team access to the repo.",
    "Hope this helps, let me know.",
    "Mark the ticket as done when finished.",
    "Bill the client for April hours.",
    "it's extend validity for another year",
    "Its extend validity option is greyed out.",
    "Please extend validity of the certificate.",
    "Our office is at {addr}.",
    "The store moved to {addr}.",
    "Deliveries go to {addr}, loading bay 3.",
    "The venue is {company} near {city}.",
    "{company} reported strong growth this quarter.",
    "We signed a contract with {company}.",
    "The train to {city} leaves at {t}.",
    "Weather in {city}: sunny, 24 degrees.",
    "Rue de la Paix is closed for the parade.",
    "Take the bus down {street} to the museum.",
    "Set the timeout to {n} ms and retry {k} times.",
    "Call the API with page size {k} and offset {n}.",
    "The batch {o} contains {k} items.",
    "Temperature sensor reads {m} at {t}.",
    "Lunch order: two pizzas and a salad.",
    "The build took {n} seconds on the CI runner.",
    "Release notes for v{v} are published.",
    "Stock level for SKU {o}: {k} units.",
    "Reset the counter at {t} every day.",
    "Our support hours are 9 to 5, Monday to Friday.",
    "Square footage of the flat is {k} sq ft.",
    "The conference is in {city} from {d1} to {d2}.",
    "Ping the staging cluster at {t} for the demo.",
    "Checksum {h} matched the upload.",
    "Meeting ID {mid}, passcode {k}.",
    "Happy Birthday to the whole team!",
    "Christmas Eve falls on a Wednesday this year.",
    "The Golden Gate Bridge is closed for maintenance.",
    "Patch Tuesday updates installed on {k} machines.",
    "The Amazon River is longer than people think.",
    "New York Times bestseller list came out.",
    "Tokyo Tower lights up blue tonight.",
]


def clean_cases() -> None:
    for _ in range(230):
        t = R.choice(CLEAN)
        text = t.format(
            v=R.choice([f"{R.randint(1, 12)}.{R.randint(0, 20)}.{R.randint(0, 9)}.{R.randint(1, 250)}",
                        f"{R.randint(1, 9)}.{R.randint(0, 30)}.{R.randint(0, 99)}"]),
            r=R.randint(1, 480), o=digits(R.choice([8, 10, 12])), m=f"{R.randint(10, 9999)}.{digits(2)}",
            w=R.choice(["nginx", "redis", "cron"]), addr=street(), company=company(), city=city(),
            street=street().split(",")[0], t=f"{R.randint(0, 23):02d}:{R.randint(0, 59):02d}",
            n=R.randint(100, 99999), k=R.randint(2, 500), d1=f"2025-0{R.randint(1, 9)}-1{R.randint(0, 9)}",
            d2=f"2025-1{R.randint(0, 2)}-0{R.randint(1, 9)}", h="".join(R.choice("0123456789abcdef") for _ in range(40)),
            mid=mask("### #### ####"),
        )  # fmt: skip
        add("clean", wrap(text))


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, bool):
        return
    elif isinstance(node, int | float):
        yield str(int(node)) if isinstance(node, float) else str(node)
        yield str(node)
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        parts = list(node)
        if parts and all(isinstance(p, int) for p in parts):
            yield "".join(map(str, parts))
        for v in parts:
            yield from _strings(v)


def main() -> None:
    name_cases()
    phone_cases()
    card_cases()
    id_cases()
    structure_cases()
    clean_cases()
    rows = []
    for category, payload, ents in CASES:
        strings = list(_strings(payload))
        for e in ents:
            if not any(e["value"] in s for s in strings):
                raise SystemExit(f"{e['type']} value not in payload: {payload}")
        rows.append({"payload": payload, "entities": ents,
                     "expect": "sensitive" if ents else "clean", "category": category})  # fmt: skip
    R.shuffle(rows)
    lines = [
        json.dumps({"id": f"everyday-{i:04d}", **row}, ensure_ascii=False)
        for i, row in enumerate(rows, 1)
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
