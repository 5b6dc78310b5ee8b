# ruff: noqa: E501, RUF001
"""Write probe.jsonl: a labelled DLP probe set, independent of the development corpus.

Deterministic and standard-library only: ``python tests/dlp/data/make_probe.py``.
Every value is synthetic; identifiers that carry a checksum (cards, NPI, DEA,
IBAN, MBI) are generated valid, and the hard negatives hold near misses.
"""

from __future__ import annotations

import base64
import json
import random
import string
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("probe.jsonl")
R = random.Random(73129)

Entity = dict[str, str]
Case = tuple[str, Any, list[Entity]]

# --------------------------------------------------------------------------- values


def digits(n: int) -> str:
    return "".join(R.choice(string.digits) for _ in range(n))


def chars(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
HEX = "0123456789abcdef"


def luhn_digit(body: str) -> str:
    """The check digit that makes body + digit Luhn-valid."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def card(prefix: str, length: int) -> str:
    body = prefix + digits(length - len(prefix) - 1)
    return body + luhn_digit(body)


def bad_card(prefix: str, length: int) -> str:
    good = card(prefix, length)
    return good[:-1] + str((int(good[-1]) + 3) % 10)


def group(number: str, sizes: list[int], sep: str = " ") -> str:
    out, i = [], 0
    for s in sizes:
        out.append(number[i : i + s])
        i += s
    return sep.join(out)


def ssn() -> str:
    while True:
        area = R.randint(1, 899)
        if area != 666:
            break
    return f"{area:03d}-{R.randint(1, 99):02d}-{R.randint(1, 9999):04d}"


def npi() -> str:
    base = R.choice("12") + digits(8)
    return base + luhn_digit("80840" + base)


def bad_npi() -> str:
    good = npi()
    return good[:-1] + str((int(good[-1]) + 5) % 10)


def dea(last_name: str) -> str:
    d = [R.randint(0, 9) for _ in range(6)]
    check = (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10
    return R.choice("ABFGMP") + last_name[0].upper() + "".join(map(str, d)) + str(check)


MBI_ALPHA = "ACDEFGHJKMNPQRTUVWXY"


def mbi(dashes: bool = False) -> str:
    an = MBI_ALPHA + string.digits
    s = (
        R.choice("123456789") + R.choice(MBI_ALPHA) + R.choice(an) + R.choice(string.digits)
        + R.choice(MBI_ALPHA) + R.choice(an) + R.choice(string.digits)
        + R.choice(MBI_ALPHA) + R.choice(MBI_ALPHA) + digits(2)
    )  # fmt: skip
    return f"{s[:4]}-{s[4:7]}-{s[7:]}" if dashes else s


IBAN_BBAN: dict[str, Callable[[], str]] = {
    "GB": lambda: chars(string.ascii_uppercase, 4) + digits(14),
    "DE": lambda: digits(18),
    "FR": lambda: digits(23),
    "NL": lambda: chars(string.ascii_uppercase, 4) + digits(10),
    "ES": lambda: digits(20),
    "IT": lambda: R.choice(string.ascii_uppercase) + digits(22),
    "CH": lambda: digits(17),
    "BE": lambda: digits(12),
    "PL": lambda: digits(24),
    "AT": lambda: digits(16),
}


def iban(country: str, spaced: bool = False) -> str:
    bban = IBAN_BBAN[country]()
    num = "".join(str(int(c, 36)) for c in bban + country + "00")
    value = f"{country}{98 - int(num) % 97:02d}{bban}"
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if spaced else value


def aws_key(prefix: str = "AKIA") -> str:
    return prefix + chars(string.ascii_uppercase + "234567", 16)


def b64url(obj: dict[str, Any]) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt(alg: str = "RS256", extra: dict[str, Any] | None = None) -> str:
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if alg != "HS256":
        header["kid"] = chars(HEX, 12)
    claims = {"sub": digits(7), "iat": 1730000000 + R.randint(0, 9999999), **(extra or {})}
    sig = chars(URLSAFE, 86 if alg != "HS256" else 43)
    return f"{b64url(header)}.{b64url(claims)}.{sig}"


def pem_body(lines: int, first: str = "MII") -> str:
    body = first + chars(B64, 64 * lines - len(first))
    return "\n".join(body[i : i + 64] for i in range(0, len(body), 64))


def pem(label: str, lines: int = 6, first: str = "MII", headers: str = "") -> str:
    tail = chars(B64, 40) + "=="
    return (
        f"-----BEGIN {label}-----\n{headers}{pem_body(lines, first)}\n{tail}\n-----END {label}-----"
    )


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --------------------------------------------------------------------------- names

NAMES = [
    "Oluwaseun Adeyemi", "Siobhán Ní Bhriain", "José María de la Cruz", "Anna-Lena Müller-Schmidt",
    "Priya Raghunathan", "Kenji Watanabe", "Zofia Wójcik", "Chidi Okonkwo", "Fatima Zahra El Amrani",
    "Dmitri Volkov", "Ayşe Yılmaz", "Seo-yeon Park", "Jean-Luc Fontaine", "Mary O'Connor",
    "D'Angelo Washington", "Hamid Karimi", "Thandiwe Mokoena", "Lars van der Berg",
    "Nguyen Thi Lan", "Aroha Ngata", "Björn Sigurðsson", "Mateus Carvalho", "Yusuf Demir",
    "Ingrid Halvorsen", "Tomasz Kowalczyk", "Rahul Venkataraman", "Elena Petrova",
    "Kwame Mensah", "Lucía Fernández Ortega", "Wei-Ling Chen", "Ahmad Farouk", "Sinéad Gallagher",
    "Malik Johnson-Reyes", "Camille Lefèvre", "Hiroshi Tanaka", "Amara Nwosu", "Giulia Romano",
    "Ravi Shankar Iyer", "Astrid Lindqvist", "Marcus von Hagen", "Leila Haddad", "Tariq Rahman",
    "Noa Ben-David", "Valentina Rossi", "Emeka Obi", "Carmen Delgado", "Sofia Andersson",
    "Diego Ramírez", "Mei Lin Wong", "Oksana Shevchenko", "Pedro Alves", "Hana Kobayashi",
]  # fmt: skip
R.shuffle(NAMES)
_name_iter = iter(NAMES * 3)


def name() -> str:
    return next(_name_iter)


def email_for(person: str, domain: str) -> str:
    parts = [p for p in person.lower().replace("'", "").split() if p.isascii()]
    first = parts[0] if parts else "user"
    last = parts[-1] if len(parts) > 1 else "x"
    style = R.randrange(4)
    local = [
        f"{first}.{last}",
        f"{first[0]}{last}",
        f"{first}_{last}{R.randint(1, 99)}",
        f"{last}.{first[0]}",
    ][style]
    return f"{local}@{domain}"


DOMAINS = [
    "riverbend-clinic.org", "mail.kestrelhealth.co.uk", "posteo.de", "proton.me",
    "harborview-med.com", "gmx.net", "yahoo.co.jp", "outlook.fr", "uni-heidelberg.de",
    "fastmail.com", "icloud.com", "pinecrest.health",
]  # fmt: skip

# --------------------------------------------------------------------------- cases

CASES: list[tuple[str, Any, list[Entity]]] = []


def add(category: str, payload: Any, *entities: tuple[str, str] | Entity) -> None:
    ents: list[Entity] = []
    for e in entities:
        ents.append(dict(e) if isinstance(e, dict) else {"type": e[0], "value": e[1]})
    CASES.append((category, payload, ents))


def ev(kind: str, typ: str, value: str, **extra: str) -> Entity:
    return {"type": typ, "value": value, "evasion": kind, **extra}


def pii() -> None:
    n = name()
    e = email_for(n, "riverbend-clinic.org")
    add(
        "pii",
        {"from": "hr-bot", "text": f"New starter {n} can be reached at {e} or +44 20 7946 0321."},
        ("PERSON", n),
        ("EMAIL_ADDRESS", e),
        ("PHONE_NUMBER", "+44 20 7946 0321"),
    )
    n = name()
    add(
        "pii",
        {"contact": {"full_name": n, "mobile": "+49 151 2345 6789", "country": "DE"}},
        ("PERSON", n),
        ("PHONE_NUMBER", "+49 151 2345 6789"),
    )
    n = name()
    add(
        "pii",
        {
            "messages": [
                {
                    "role": "user",
                    "content": f"hey it's {n.lower()}, call me back on 312.555.0187 after 5",
                }
            ]
        },
        ("PERSON", n.lower()),
        ("PHONE_NUMBER", "312.555.0187"),
    )
    n = name()
    add(
        "pii",
        {"ticket": {"requester": n, "phone": "(617) 555-0142 x12", "issue": "Cannot log in"}},
        ("PERSON", n),
        ("PHONE_NUMBER", "(617) 555-0142 x12"),
    )
    s = ssn()
    n = name()
    add(
        "pii",
        {"applicant": {"name": n, "ssn": s.replace("-", "")}, "form": "I-9"},
        ("PERSON", n),
        ("US_SSN", s.replace("-", "")),
    )
    s = ssn()
    add(
        "pii",
        {"note": f"Employee SSN on file: {s.replace('-', ' ')} (verified by payroll)"},
        ("US_SSN", s.replace("-", " ")),
    )
    n = name()
    pp = R.choice("ACEFGH") + digits(8)
    add(
        "pii",
        {
            "traveler": {
                "name": n,
                "passport_number": pp,
                "nationality": "USA",
                "expires": "2031-08-14",
            }
        },
        ("PERSON", n),
        ("US_PASSPORT", pp),
    )
    pp = digits(9)
    add(
        "pii",
        {"text": f"US passport no. {pp}, issued 2019, please copy it to the visa form."},
        ("US_PASSPORT", pp),
    )
    dl = "D" + digits(7)
    n = name()
    add(
        "pii",
        {"rental": {"driver": n, "license": {"state": "CA", "number": dl}}},
        ("PERSON", n),
        ("US_DRIVER_LICENSE", dl),
    )
    dl = "S" + digits(3) + "-" + digits(3) + "-" + digits(2) + "-" + digits(3) + "-" + digits(1)
    add(
        "pii",
        {"text": f"Florida driver's license {dl} was scanned at the front desk."},
        ("US_DRIVER_LICENSE", dl),
    )
    dl = digits(3) + " " + digits(3) + " " + digits(3)
    add(
        "pii",
        {"kyc": {"document": "NY driver license", "document_no": dl}},
        ("US_DRIVER_LICENSE", dl),
    )
    add(
        "pii",
        {
            "log": "2025-03-14T09:12:44Z WARN auth failed for user=k.mensah src=203.0.113.77 attempts=5"
        },
        ("IP_ADDRESS", "203.0.113.77"),
    )
    add(
        "pii",
        {
            "events": [
                {"ip": "2001:db8:85a3::8a2e:370:7334", "action": "login"},
                {"ip": "198.51.100.23", "action": "download"},
            ]
        },
        ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334"),
        ("IP_ADDRESS", "198.51.100.23"),
    )
    n1, n2 = name(), name()
    e1, e2 = email_for(n1, "posteo.de"), email_for(n2, "proton.me")
    add(
        "pii",
        {"csv": f"name,email,phone\n{n1},{e1},+33 6 12 34 56 78\n{n2},{e2},+91 98765 43210\n"},
        ("PERSON", n1),
        ("EMAIL_ADDRESS", e1),
        ("PHONE_NUMBER", "+33 6 12 34 56 78"),
        ("PERSON", n2),
        ("EMAIL_ADDRESS", e2),
        ("PHONE_NUMBER", "+91 98765 43210"),
    )
    n1, n2 = name(), name()
    add(
        "pii",
        {
            "markdown": f"| Name | Phone |\n|---|---|\n| {n1} | 020 7946 0958 |\n| {n2} | 0412 345 678 |"
        },
        ("PERSON", n1),
        ("PHONE_NUMBER", "020 7946 0958"),
        ("PERSON", n2),
        ("PHONE_NUMBER", "0412 345 678"),
    )
    n = name()
    e = email_for(n, "gmx.net")
    add(
        "pii",
        {"user": {"profile": {"contact": {"primary": {"email": e}}}, "display_name": n}},
        ("EMAIL_ADDRESS", e),
        ("PERSON", n),
    )
    n = name()
    add(
        "pii",
        {"body": f"Please forward the contract to {n}, she signs for the vendor."},
        ("PERSON", n),
    )
    n = name()
    add(
        "pii",
        {
            "chat": [
                {"from": "agent", "text": "What name is the booking under?"},
                {"from": "guest", "text": f"{n}. Phone is +81 3-1234-5678."},
            ]
        },
        ("PERSON", n),
        ("PHONE_NUMBER", "+81 3-1234-5678"),
    )
    n = name()
    e = email_for(n, "yahoo.co.jp")
    add(
        "pii",
        {"headers": {"From": f"{n} <{e}>", "Subject": "Re: invoice"}},
        ("PERSON", n),
        ("EMAIL_ADDRESS", e),
    )
    add(
        "pii",
        {"text": "Reach the landlord on 1-415-555-0199 or +61 2 9876 5432 (Sydney office)."},
        ("PHONE_NUMBER", "1-415-555-0199"),
        ("PHONE_NUMBER", "+61 2 9876 5432"),
    )
    s = ssn()
    n = name()
    add("pii", {"records": [{"name": n, "tax_id": s, "state": "OH"}]}, ("PERSON", n), ("US_SSN", s))
    n = name()
    add(
        "pii",
        {"signature": f"Best regards,\n{n}\nSenior Analyst\nTel. +49 (0)30 901820-17"},
        ("PERSON", n),
        ("PHONE_NUMBER", "+49 (0)30 901820-17"),
    )
    n = name()
    e = f"{n.split()[0].lower()}+billing@fastmail.com".replace("'", "")
    add("pii", {"text": f"Invoices go to {e}, attention {n}."}, ("EMAIL_ADDRESS", e), ("PERSON", n))
    s = ssn()
    add("pii", {"text": f"SSN#{s} matches the W-2 we received."}, ("US_SSN", s))
    n = name()
    add(
        "pii",
        {
            "text": f"Dear {n},\nYour application has been received. We will call you at (202) 555-0113."
        },
        ("PERSON", n),
        ("PHONE_NUMBER", "(202) 555-0113"),
    )
    n = name()
    add(
        "pii",
        {
            "form_data": "first_name="
            + urllib.parse.quote(n.split()[0])
            + "&last_name="
            + urllib.parse.quote(n.split()[-1])
            + "&phone=07700%20900123"
        },
        ("PHONE_NUMBER", "07700%20900123"),
    )
    n = name()
    add(
        "pii",
        {"kv": f"name: {n}; dob_verified: yes; mobile: 0151 23456789"},
        ("PERSON", n),
        ("PHONE_NUMBER", "0151 23456789"),
    )
    n = name()
    add("pii", {"text": f"Witness statement taken from {n} on Monday."}, ("PERSON", n))
    n = name()
    add(
        "pii",
        {"assignee": {"name": n, "ip": "192.0.2.146"}, "task": "VPN access"},
        ("PERSON", n),
        ("IP_ADDRESS", "192.0.2.146"),
    )
    s = ssn()
    add("pii", {"payroll": [["id", "ssn"], ["E-1043", s]]}, ("US_SSN", s))


def phi() -> None:
    n = name()
    mrn = digits(8)
    add(
        "phi",
        {
            "patient": {"name": n, "dob": "1988-04-03", "mrn": mrn},
            "encounter": {"dx": [{"code": "I10", "text": "essential hypertension"}]},
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "1988-04-03"),
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("ICD10_CODE", "I10"),
    )
    n = name()
    add(
        "phi",
        {
            "text": f"{n} (born 3rd April 1961) was admitted with a fractured femur, ICD-10 S72.001A."
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "3rd April 1961"),
        ("ICD10_CODE", "S72.001A"),
    )
    n = name()
    mrn = "MR-" + digits(7)
    add(
        "phi",
        {
            "referral": {
                "patient.name": n,
                "patient.dob": "Apr 3 '88",
                "patient.mrn": mrn,
                "reason": "chest pain",
            }
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "Apr 3 '88"),
        ("MEDICAL_RECORD_NUMBER", mrn),
    )
    m = mbi(dashes=True)
    n = name()
    add(
        "phi",
        {"eligibility": {"beneficiary": n, "medicare_id": m, "plan": "Part B"}},
        ("PERSON", n),
        ("HEALTH_PLAN_ID", m),
    )
    m = mbi()
    add(
        "phi",
        {"text": f"Medicare Beneficiary Identifier {m} is active since 2022."},
        ("HEALTH_PLAN_ID", m),
    )
    mem = chars(string.ascii_uppercase, 3) + digits(9)
    n = name()
    add(
        "phi",
        {
            "claim": {
                "subscriber": {"name": n, "member_id": mem, "group": "GRP-4410"},
                "diagnosis_codes": ["E78.5", "Z79.4"],
            }
        },
        ("PERSON", n),
        ("HEALTH_PLAN_ID", mem),
        ("ICD10_CODE", "E78.5"),
        ("ICD10_CODE", "Z79.4"),
    )
    doc = name()
    p = npi()
    d = dea(doc.split()[-1])
    add(
        "phi",
        {"prescriber": {"name": f"Dr. {doc}", "npi": p, "dea": d}, "rx": "oxycodone 5 mg"},
        ("PERSON", doc),
        ("US_NPI", p),
        ("DEA_NUMBER", d),
    )
    doc = name()
    p = npi()
    add(
        "phi",
        {"text": f"Rendering provider: {doc}, MD - NPI {p} - Cardiology"},
        ("PERSON", doc),
        ("US_NPI", p),
    )
    doc = name()
    d = dea(doc.split()[-1])
    add(
        "phi",
        {"text": f"DEA reg. {d} on the controlled-substance script was verified."},
        ("DEA_NUMBER", d),
    )
    pt = name()
    doc = name()
    mrn = digits(7)
    add(
        "phi",
        {
            "conversation": [
                {
                    "speaker": "patient",
                    "text": f"hi dr {doc.split()[-1].lower()}, this is {pt.lower()}, my record number is {mrn}",
                },
                {
                    "speaker": "doctor",
                    "text": "Thanks. Your A1c came back at 8.2, so we'll keep the E11.65 diagnosis and adjust metformin.",
                },
                {"speaker": "patient", "text": "ok. my date of birth is 14.07.1979 if you need it"},
            ]
        },
        ("PERSON", pt.lower()),
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("ICD10_CODE", "E11.65"),
        ("DATE_OF_BIRTH", "14.07.1979"),
    )
    n = name()
    mrn = digits(9)
    add(
        "phi",
        {
            "hl7": f"MSH|^~\\&|LAB|NWH|EHR|NWH|202503140812||ORU^R01|MSG00071|P|2.5\rPID|1||{mrn}^^^NWH^MR||{n.split()[-1].upper()}^{n.split()[0].upper()}||19791203|F"
        },
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("PERSON", f"{n.split()[-1].upper()}^{n.split()[0].upper()}"),
        ("DATE_OF_BIRTH", "19791203"),
    )
    n = name()
    add(
        "phi",
        {
            "fhir": {
                "resourceType": "Patient",
                "name": [{"family": n.split()[-1], "given": [n.split()[0]]}],
                "birthDate": "1954-11-23",
                "identifier": [
                    {
                        "system": "urn:oid:2.16.840.1.113883.4.1",
                        "value": "MRN-" + (mrn := digits(6)),
                    }
                ],
            }
        },
        ("DATE_OF_BIRTH", "1954-11-23"),
        ("MEDICAL_RECORD_NUMBER", "MRN-" + mrn),
    )
    n = name()
    add(
        "phi",
        {"text": f"Pt {n}, DOB: 02/29/1996, presents with migraine without aura (G43.009)."},
        ("PERSON", n),
        ("DATE_OF_BIRTH", "02/29/1996"),
        ("ICD10_CODE", "G43.009"),
    )
    n = name()
    mrn = digits(8)
    add(
        "phi",
        {"csv": f"mrn,patient,dob,dx\n{mrn},{n},1972-06-30,J44.1\n"},
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("PERSON", n),
        ("DATE_OF_BIRTH", "1972-06-30"),
        ("ICD10_CODE", "J44.1"),
    )
    n = name()
    add(
        "phi",
        {
            "markdown": f"| Patient | D.O.B. | Diagnosis |\n|---|---|---|\n| {n} | 19 July 1990 | F41.1 generalized anxiety |"
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "19 July 1990"),
        ("ICD10_CODE", "F41.1"),
    )
    mem = "W" + digits(9) + "-01"
    add(
        "phi",
        {"text": f"Insurance member # {mem} (Aetna PPO), copay $30."},
        ("HEALTH_PLAN_ID", mem),
    )
    n = name()
    add(
        "phi",
        {
            "discharge_summary": {
                "patient": n,
                "sections": [
                    {
                        "title": "Diagnoses",
                        "items": ["N18.3 chronic kidney disease stage 3", "I50.9 heart failure"],
                    }
                ],
            }
        },
        ("PERSON", n),
        ("ICD10_CODE", "N18.3"),
        ("ICD10_CODE", "I50.9"),
    )
    mrn = "A" + digits(6)
    add(
        "phi",
        {"text": f"Chart #{mrn}: allergy to penicillin documented, patient stable."},
        ("MEDICAL_RECORD_NUMBER", mrn),
    )
    n = name()
    add(
        "phi",
        {
            "messages": [
                {
                    "role": "user",
                    "content": f"i'm {n}, dob 7/4/85, can i get a refill of my sertraline?",
                }
            ]
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "7/4/85"),
    )
    n = name()
    mrn = digits(10)
    add(
        "phi",
        {"log": f'2025-02-01 10:22:03 INFO chart.open user=dr_reyes mrn={mrn} patient="{n}"'},
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("PERSON", n),
    )
    n = name()
    add(
        "phi",
        {
            "labs": {
                "patient_name": n,
                "results": [{"test": "TSH", "value": 7.9, "unit": "mIU/L"}],
                "assessment": "hypothyroidism, unspecified (E03.9)",
            }
        },
        ("PERSON", n),
        ("ICD10_CODE", "E03.9"),
    )
    doc = name()
    p = npi()
    add(
        "phi",
        {"providers": [{"npi": p, "taxonomy": "207R00000X", "name": doc}]},
        ("US_NPI", p),
        ("PERSON", doc),
    )
    n = name()
    mrn = digits(8)
    add(
        "phi",
        {
            "text": f"Please pull the imaging for medical record number {mrn}; {n} is scheduled for an MRI."
        },
        ("MEDICAL_RECORD_NUMBER", mrn),
        ("PERSON", n),
    )
    n = name()
    add(
        "phi",
        {
            "appointment": {
                "who": n,
                "birth_date": "March 9, 1949",
                "clinic": "oncology",
                "reason": "C50.911 follow-up",
            }
        },
        ("PERSON", n),
        ("DATE_OF_BIRTH", "March 9, 1949"),
        ("ICD10_CODE", "C50.911"),
    )
    m = mbi()
    n = name()
    add(
        "phi",
        {"text": f"{n}'s MBI is {m}; Medicare Advantage enrollment pending."},
        ("PERSON", n),
        ("HEALTH_PLAN_ID", m),
    )
    n = name()
    add(
        "phi",
        {"nurse_note": f"Spoke with {n} (DOB 1943-01-15). Reports dizziness. Hx: R42, I48.91."},
        ("PERSON", n),
        ("DATE_OF_BIRTH", "1943-01-15"),
        ("ICD10_CODE", "R42"),
        ("ICD10_CODE", "I48.91"),
    )
    pt = name()
    doc = name()
    add(
        "phi",
        {
            "conversation": [
                {"role": "doctor", "text": f"Good morning {pt}, how has the asthma been?"},
                {"role": "patient", "text": "Better since the new inhaler."},
                {
                    "role": "doctor",
                    "text": "Great. I'm coding today's visit as J45.40, moderate persistent asthma.",
                },
            ]
        },
        ("PERSON", pt),
        ("ICD10_CODE", "J45.40"),
    )
    mem = "XKB" + digits(8)
    n = name()
    add(
        "phi",
        {"card": {"insured": n, "id_number": mem, "rx_bin": "610014", "payer": "BlueCross"}},
        ("PERSON", n),
        ("HEALTH_PLAN_ID", mem),
    )
    n = name()
    add(
        "phi",
        {"text": f"Newborn {n}, born on 2025-01-12 at 03:14, Apgar 9/9."},
        ("PERSON", n),
        ("DATE_OF_BIRTH", "2025-01-12"),
    )
    mrn = digits(4) + "-" + digits(5)
    add(
        "phi",
        {"order": {"mrn": mrn, "test": "CBC w/ diff", "priority": "routine"}},
        ("MEDICAL_RECORD_NUMBER", mrn),
    )
    n = name()
    add(
        "phi",
        {"text": f"Pathology confirms diagnosis C34.90 for {n}; oncology consult requested."},
        ("ICD10_CODE", "C34.90"),
        ("PERSON", n),
    )
    n = name()
    add(
        "phi",
        {
            "intake": {
                "patient": {"first": n.split()[0], "last": n.split()[-1], "dob": "11/30/1967"},
                "complaint": "low back pain",
            }
        },
        ("DATE_OF_BIRTH", "11/30/1967"),
    )
    doc = name()
    p = npi()
    d = dea(doc.split()[-1])
    add(
        "phi",
        {"text": f"prescriber npi: {p}\nprescriber dea: {d}\nsig: 1 tab po qhs"},
        ("US_NPI", p),
        ("DEA_NUMBER", d),
    )
    n = name()
    add(
        "phi",
        {
            "messages": [
                {
                    "role": "patient",
                    "content": f"my name is {n} and i was diagnosed with type 2 diabetes last year (they wrote E11.9 on the form)",
                }
            ]
        },
        ("PERSON", n),
        ("ICD10_CODE", "E11.9"),
    )
    mrn = digits(8)
    add(
        "phi",
        {"list": [{"k": "MRN", "v": mrn}, {"k": "ward", "v": "4B"}]},
        ("MEDICAL_RECORD_NUMBER", mrn),
    )
    n = name()
    add(
        "phi",
        {"text": f"Date of birth: 5 Sept 1959. Name: {n}. Admitted for pneumonia, J18.9."},
        ("DATE_OF_BIRTH", "5 Sept 1959"),
        ("PERSON", n),
        ("ICD10_CODE", "J18.9"),
    )


def pci() -> None:
    brands = [
        ("Amex", "37", 15, [4, 6, 5]), ("Amex", "34", 15, [4, 6, 5]), ("Discover", "6011", 16, [4, 4, 4, 4]),
        ("Discover", "65", 16, [4, 4, 4, 4]), ("JCB", "3530", 16, [4, 4, 4, 4]), ("JCB", "3589", 16, [4, 4, 4, 4]),
        ("Diners Club", "36", 14, [4, 6, 4]), ("Diners Club", "305", 14, [4, 6, 4]), ("UnionPay", "62", 16, [4, 4, 4, 4]),
        ("UnionPay", "621", 19, [6, 13]), ("Maestro", "6759", 16, [4, 4, 4, 4]), ("Maestro", "5018", 19, [4, 4, 4, 4, 3]),
        ("Mastercard", "2223", 16, [4, 4, 4, 4]), ("Visa", "4", 16, [4, 4, 4, 4]), ("Mastercard", "55", 16, [4, 4, 4, 4]),
    ]  # fmt: skip
    shapes = [
        lambda b, c: ({"payment": {"method": "card", "brand": b, "pan": c, "exp": "09/28"}}),
        lambda b, c: (
            {
                "text": f"Charge the {b} ending... actually here is the full number {c}, expiry 11/27."
            }
        ),
        lambda b, c: (
            {
                "messages": [
                    {"role": "user", "content": f"my {b.lower()} card is {c} cvv on the back"}
                ]
            }
        ),
        lambda b, c: (
            {
                "order": {
                    "items": [{"sku": "TX-220", "qty": 1}],
                    "billing": {"card_number": c, "zip": "94107"},
                }
            }
        ),
        lambda b, c: ({"log": f"POST /checkout 402 card={c} brand={b} declined"}),
    ]
    for i, (brand, prefix, length, sizes) in enumerate(brands):
        c = card(prefix, length)
        formatted = group(c, sizes, " " if i % 3 else "-") if i % 4 else c
        n = name() if i % 5 == 0 else None
        payload = shapes[i % len(shapes)](brand, formatted)
        if n:
            payload["cardholder"] = n
            add("pci", payload, ("CREDIT_CARD", formatted), ("PERSON", n))
        else:
            add("pci", payload, ("CREDIT_CARD", formatted))
    for country in ["GB", "DE", "FR", "NL", "ES", "IT", "CH", "PL"]:
        spaced = country in {"GB", "FR", "IT", "PL"}
        value = iban(country, spaced)
        if country in {"GB", "ES"}:
            n = name()
            add(
                "pci",
                {"payout": {"beneficiary": n, "iban": value, "bic": "NWBKGB2L"}},
                ("PERSON", n),
                ("IBAN_CODE", value),
            )
        else:
            add(
                "pci",
                {"text": f"Please wire the refund to IBAN {value} by Friday."},
                ("IBAN_CODE", value),
            )


def secrets() -> None:
    t = "github_pat_" + chars(ALNUM, 22) + "_" + chars(ALNUM, 59)
    add("secret", {"env": {"GH_TOKEN": t, "CI": "true"}}, ("API_TOKEN", t))
    t = "gho_" + chars(ALNUM, 36)
    add(
        "secret",
        {"text": f"oauth token for the bot is {t} - rotate after the demo"},
        ("API_TOKEN", t),
    )
    t = "ghs_" + chars(ALNUM, 36)
    add(
        "secret",
        {"log": f"git clone https://x-access-token:{t}@github.com/acme/infra.git"},
        ("API_TOKEN", t),
    )
    t = "glpat-" + chars(URLSAFE, 20)
    add(
        "secret",
        {"ci": {"variables": [{"key": "GITLAB_TOKEN", "value": t, "masked": False}]}},
        ("API_TOKEN", t),
    )
    t = f"xoxp-{digits(12)}-{digits(12)}-{digits(13)}-{chars(HEX, 32)}"
    add("secret", {"text": f"Slack user token: {t}"}, ("API_TOKEN", t))
    t = f"xoxb-{digits(11)}-{digits(13)}-{chars(ALNUM, 24)}"
    add(
        "secret",
        {"integrations": {"slack": {"bot_token": t, "channel": "#alerts"}}},
        ("API_TOKEN", t),
    )
    t = "sk_live_" + chars(ALNUM, 24)
    add("secret", {"stripe": {"secret_key": t}}, ("API_TOKEN", t))
    t = "rk_live_" + chars(ALNUM, 99)
    add("secret", {"text": f"Restricted key {t} is what the reporting job uses."}, ("API_TOKEN", t))
    t = "AIza" + chars(URLSAFE, 35)
    add(
        "secret",
        {"maps_url": f"https://maps.googleapis.com/maps/api/geocode/json?address=Main+St&key={t}"},
        ("API_TOKEN", t),
    )
    t = "SG." + chars(URLSAFE, 22) + "." + chars(URLSAFE, 43)
    add(
        "secret",
        {"smtp": {"host": "smtp.sendgrid.net", "user": "apikey", "pass": t}},
        ("API_TOKEN", t),
    )
    t = "SK" + chars(HEX, 32)
    s2 = chars(HEX, 32)
    add(
        "secret",
        {"twilio": {"account_sid": "AC" + chars(HEX, 32), "api_key": t, "api_secret": s2}},
        ("API_TOKEN", t),
        ("API_TOKEN", s2),
    )
    t = chars(HEX, 32)
    add("secret", {"text": f"TWILIO_AUTH_TOKEN={t}"}, ("API_TOKEN", t))
    t = "npm_" + chars(ALNUM, 36)
    add("secret", {"npmrc": f"//registry.npmjs.org/:_authToken={t}"}, ("API_TOKEN", t))
    t = "sk-proj-" + chars(URLSAFE, 64)
    add(
        "secret",
        {
            "messages": [
                {"role": "user", "content": f'why does my script fail? openai.api_key = "{t}"'}
            ]
        },
        ("API_TOKEN", t),
    )
    t = "hf_" + chars(string.ascii_letters, 34)
    add("secret", {"text": f"huggingface-cli login --token {t}"}, ("API_TOKEN", t))
    t = chars(URLSAFE, 43)
    add("secret", {"oauth": {"client_id": "web-portal", "client_secret": t}}, ("API_TOKEN", t))
    t = chars(HEX, 40)
    add(
        "secret",
        {"request": {"headers": {"Authorization": f"token {t}", "Accept": "application/json"}}},
        ("API_TOKEN", t),
    )
    t = chars(ALNUM, 48)
    add(
        "secret",
        {"curl": f"curl -H 'X-API-Key: {t}' https://api.partner.io/v1/orders"},
        ("API_TOKEN", t),
    )
    t = chars(B64, 86) + "=="
    add(
        "secret",
        {
            "storage": f"DefaultEndpointsProtocol=https;AccountName=nwhexports;AccountKey={t};EndpointSuffix=core.windows.net"
        },
        ("API_TOKEN", t),
    )
    t = chars(HEX, 32)
    add("secret", {"datadog": {"DD_API_KEY": t}}, ("API_TOKEN", t))
    k = aws_key("AKIA")
    add(
        "secret",
        {"text": f"export AWS_ACCESS_KEY_ID={k}\nexport AWS_DEFAULT_REGION=us-east-2"},
        ("AWS_ACCESS_KEY", k),
    )
    k = aws_key("ASIA")
    add(
        "secret",
        {"credentials": {"AccessKeyId": k, "Expiration": "2025-06-01T12:00:00Z"}},
        ("AWS_ACCESS_KEY", k),
    )
    k = aws_key("AKIA")
    add(
        "secret",
        {
            "log": f"botocore.exceptions.ClientError: key {k} is not authorized to perform s3:PutObject"
        },
        ("AWS_ACCESS_KEY", k),
    )
    j = jwt("RS256", {"email_verified": True})
    add("secret", {"cookie": f"session={j}; Path=/; HttpOnly"}, ("JWT", j))
    j = jwt("ES256")
    add(
        "secret",
        {"url": f"https://app.pinecrest.health/callback#id_token={j}&state=af0ifjsldkj"},
        ("JWT", j),
    )
    j = jwt("HS256", {"role": "admin"})
    add("secret", {"auth": {"refresh_token": j}}, ("JWT", j))
    j = jwt("RS256")
    add("secret", {"text": f"paste this in the Authorization header: Bearer {j}"}, ("JWT", j))
    k = pem("RSA PRIVATE KEY", 8)
    add("secret", {"files": [{"path": "deploy/id_rsa", "content": k}]}, ("PRIVATE_KEY", k))
    k = pem("EC PRIVATE KEY", 2, "MHcCAQEE")
    add("secret", {"text": f"Here is the signing key:\n{k}\nkeep it safe"}, ("PRIVATE_KEY", k))
    k = pem("ENCRYPTED PRIVATE KEY", 5, "MIIFHDBOBgkqhkiG9w0BBQ0w")
    add("secret", {"tls": {"key": k, "passphrase_hint": "team vault"}}, ("PRIVATE_KEY", k))
    k = pem("OPENSSH PRIVATE KEY", 6, "b3BlbnNzaC1rZXktdjEAAAAA")
    add(
        "secret",
        {
            "messages": [
                {"role": "user", "content": f"can you check why ssh rejects this key?\n{k}"}
            ]
        },
        ("PRIVATE_KEY", k),
    )
    k = pem(
        "PGP PRIVATE KEY BLOCK",
        6,
        "lQdGBF",
        headers="Version: GnuPG v2\nComment: release signing\n\n",
    )
    add("secret", {"attachment_text": k}, ("PRIVATE_KEY", k))
    k = pem("PRIVATE KEY", 6, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
    sa = {
        "type": "service_account",
        "project_id": "nwh-analytics",
        "private_key_id": chars(HEX, 40),
        "private_key": k + "\n",
        "client_email": "etl@nwh-analytics.iam.gserviceaccount.com",
    }
    add("secret", {"service_account": sa}, ("PRIVATE_KEY", k))
    k = pem("DSA PRIVATE KEY", 4, "MIIBuwIBAAKBgQ")
    esc = k.replace("\n", "\\n")
    add("secret", {"dotenv": f'SIGNING_KEY="{esc}"'}, ("PRIVATE_KEY", esc))
    k = pem(
        "RSA PRIVATE KEY",
        6,
        "MIIEpAIBAAKCAQEA",
        headers="Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n",
    )
    add("secret", {"text": k}, ("PRIVATE_KEY", k))
    t = "dop_v1_" + chars(HEX, 64)
    add("secret", {"terraform": {"provider": {"digitalocean": {"token": t}}}}, ("API_TOKEN", t))
    t = "shpat_" + chars(HEX, 32)
    add("secret", {"text": f"Shopify admin token {t} for the store sync."}, ("API_TOKEN", t))
    pw_t = chars(ALNUM, 32)
    add(
        "secret",
        {"config": "[api]\nendpoint = https://billing.internal\napi_key = " + pw_t + "\n"},
        ("API_TOKEN", pw_t),
    )


def evasions() -> None:
    # Cyrillic / Greek look-alikes in e-mail addresses and names
    cyr = str.maketrans({"a": "а", "e": "е", "o": "о", "c": "с", "p": "р"})
    for dom in ["harborview-med.com", "outlook.fr", "icloud.com"]:
        n = name()
        e = email_for(n, dom)
        local, _, d = e.partition("@")
        spoof = local.translate(cyr) + "@" + d
        add(
            "evasion",
            {"text": f"send the results to {spoof} please"},
            ev("homoglyph", "EMAIL_ADDRESS", spoof),
        )
    n = "Elena Popova"
    spoof = n.translate(str.maketrans({"o": "ο", "a": "α"}))
    add(
        "evasion",
        {"text": f"Patient {spoof} requested her records, SSN {(s := ssn())}."},
        ev("homoglyph", "PERSON", spoof),
        ("US_SSN", s),
    )
    # separators between digits
    c = card("4", 16)
    v = group(c, [4, 4, 4, 4], "_")
    add("evasion", {"text": f"card: {v}"}, ev("underscores", "CREDIT_CARD", v))
    c = card("37", 15)
    v = group(c, [4, 6, 5], "/")
    add("evasion", {"note": f"amex {v} exp 03/29"}, ev("slashes", "CREDIT_CARD", v))
    s = ssn()
    v = s.replace("-", "/")
    add("evasion", {"text": f"social: {v}"}, ev("slashes", "US_SSN", v))
    s = ssn()
    v = s.replace("-", "\u2013")
    add("evasion", {"text": f"SSN {v} (typed on a phone)"}, ev("en-dash", "US_SSN", v))
    c = card("6011", 16)
    v = "-".join(c[i : i + 2] for i in range(0, 16, 2))
    add("evasion", {"text": f"discover {v}"}, ev("pairs", "CREDIT_CARD", v))
    c = card("5", 16)
    v = group(c, [4, 4, 4, 4], " - ")
    add("evasion", {"text": f"mastercard {v}"}, ev("spaced-dashes", "CREDIT_CARD", v))
    # digits as words
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    s = ssn().replace("-", "")
    v = " ".join(words[int(d)] for d in s)
    add(
        "evasion",
        {"messages": [{"role": "user", "content": f"ok my social is {v}"}]},
        ev("digit-words", "US_SSN", v),
    )
    c = card("4", 16)
    v = " ".join(words[int(d)] for d in c)
    add("evasion", {"text": f"card number {v}"}, ev("digit-words", "CREDIT_CARD", v))
    v = "five five five, zero one six seven"
    add(
        "evasion",
        {"text": f"call me at two oh six, {v}"},
        ev("digit-words", "PHONE_NUMBER", "two oh six, " + v),
    )
    # HTML entities
    n = name()
    e = email_for(n, "pinecrest.health")
    v = e.replace("@", "&#64;").replace(".", "&#46;", 1)
    add("evasion", {"html": f"<p>Contact: <a>{v}</a></p>"}, ev("html-entities", "EMAIL_ADDRESS", v))
    s = ssn()
    v = "".join(f"&#{ord(ch)};" for ch in s)
    add("evasion", {"html": f"<span>SSN {v}</span>"}, ev("html-entities", "US_SSN", v))
    c = card("35", 16)
    v = "".join(f"&#x{ord(ch):x};" for ch in c)
    add("evasion", {"html": f"<td>card</td><td>{v}</td>"}, ev("html-entities", "CREDIT_CARD", v))
    # URL encoding
    n = name()
    e = email_for(n, "gmx.net")
    v = urllib.parse.quote(e, safe="")
    add(
        "evasion",
        {"url": f"https://track.example.net/c?u={v}&src=newsletter"},
        ev("url-encoded", "EMAIL_ADDRESS", v),
    )
    s = ssn()
    v = urllib.parse.quote(f"ssn={s}", safe="")
    add("evasion", {"query": f"q={v}&page=2"}, ev("url-encoded", "US_SSN", v))
    c = card("4", 16)
    v = urllib.parse.quote(group(c, [4, 4, 4, 4], " "))
    add("evasion", {"redirect": f"/pay?pan={v}&amt=12.00"}, ev("url-encoded", "CREDIT_CARD", v))
    # base64 of JSON and of text
    s = ssn()
    n = name()
    raw = json.dumps({"name": n, "ssn": s})
    v = b64(raw)
    add(
        "evasion",
        {"blob": v, "type": "application/json"},
        ev("b64json", "US_SSN", v, decoded=s, encoding="base64"),
    )
    c = card("6011", 16)
    raw = json.dumps({"card": {"number": c, "exp": "04/29"}})
    v = b64(raw)
    add("evasion", {"data": v}, ev("b64json", "CREDIT_CARD", v, decoded=c, encoding="base64"))
    n = name()
    e = email_for(n, "proton.me")
    v = base64.urlsafe_b64encode(e.encode()).decode()
    add("evasion", {"ref": v}, ev("b64url", "EMAIL_ADDRESS", v, decoded=e, encoding="base64"))
    k = aws_key()
    raw = f"aws_access_key_id={k}\n"
    v = b64(raw)
    add(
        "evasion",
        {"file": {"name": "creds.txt", "content_b64": v}},
        ev("b64doc", "AWS_ACCESS_KEY", v, decoded=k, encoding="base64"),
    )
    mrn = digits(8)
    raw = json.dumps({"patient": {"mrn": mrn, "dx": "I10"}})
    v = b64(raw)
    add(
        "evasion",
        {"payload": v},
        ev("b64json", "MEDICAL_RECORD_NUMBER", v, decoded=mrn, encoding="base64"),
    )
    # "at" / "dot" spelling of e-mail addresses
    n = name()
    e = email_for(n, "icloud.com")
    local, _, d = e.partition("@")
    v = f"{local.replace('.', ' dot ')} at {d.replace('.', ' dot ')}"
    add("evasion", {"text": f"write to {v}"}, ev("at-dot", "EMAIL_ADDRESS", v))
    n = name()
    e = email_for(n, "fastmail.com")
    local, _, d = e.partition("@")
    v = f"{local} [at] {d.replace('.', ' [dot] ')}"
    add("evasion", {"text": f"my mail: {v}"}, ev("at-dot", "EMAIL_ADDRESS", v))
    # other-script digits
    arabic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    s = ssn()
    v = s.translate(arabic)
    add("evasion", {"text": f"SSN {v}"}, ev("arabic-indic-digits", "US_SSN", v))
    deva = str.maketrans("0123456789", "०१२३४५६७८९")
    c = card("4", 16)
    v = group(c, [4, 4, 4, 4]).translate(deva)
    add("evasion", {"text": f"card {v}"}, ev("devanagari-digits", "CREDIT_CARD", v))
    bold = str.maketrans("0123456789", "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")
    s = ssn()
    v = s.translate(bold)
    add("evasion", {"text": f"ssn {v}"}, ev("math-digits", "US_SSN", v))
    # invisible characters of other kinds
    c = card("5", 16)
    v = "\u00ad".join(group(c, [4, 4, 4, 4], "").__iter__())
    add("evasion", {"text": f"card {v}"}, ev("soft-hyphen", "CREDIT_CARD", v))
    s = ssn()
    v = "\u2060".join(s)
    add("evasion", {"text": f"SSN {v}"}, ev("word-joiner", "US_SSN", v))
    n = name()
    e = email_for(n, "posteo.de")
    v = e[:3] + "\u200d" + e[3:8] + "\ufeff" + e[8:]
    add("evasion", {"text": f"email {v}"}, ev("zwj", "EMAIL_ADDRESS", v))
    # split across lines
    c = card("4", 16)
    v = group(c, [4, 4], " ") + "\n" + c[8:12] + " " + c[12:]
    add("evasion", {"text": f"card:\n{v}\nthanks"}, ev("newline", "CREDIT_CARD", v))
    # spaced secrets and keys
    k = aws_key()
    v = " ".join(k[i : i + 4] for i in range(0, 20, 4))
    add("evasion", {"text": f"key id {v}"}, ev("spaced", "AWS_ACCESS_KEY", v))
    t = "ghp_" + chars(ALNUM, 36)
    v = t[:12] + "\u200b" + t[12:]
    add("evasion", {"text": f"token {v}"}, ev("zwsp", "API_TOKEN", v))
    # mixed separators / dots in phone and IBAN
    v = "+44\u00a07700\u00a0900\u00a0461"
    add("evasion", {"text": f"mobile {v}"}, ev("nbsp", "PHONE_NUMBER", v))
    value = iban("DE")
    v = "-".join(value[i : i + 4] for i in range(0, len(value), 4))
    add("evasion", {"text": f"iban {v}"}, ev("dashes", "IBAN_CODE", v))
    n = name()
    v = " ".join(n.upper())
    add("evasion", {"text": f"patient: {v}, bed 12"}, ev("spaced-letters", "PERSON", v))
    s = ssn()
    v = s.replace("-", ".")
    add("evasion", {"text": f"Soc Sec # {v}"}, ev("dots", "US_SSN", v))
    c = card("36", 14)
    v = "".join(ch + " " for ch in c).strip()
    add("evasion", {"text": f"diners {v}"}, ev("spaced", "CREDIT_CARD", v))
    s = ssn()
    fw = str.maketrans("0123456789-", "０１２３４５６７８９－")
    v = s.translate(fw)
    add("evasion", {"text": f"ssn {v}"}, ev("fullwidth", "US_SSN", v))
    m = mbi()
    v = " ".join(m)
    add("evasion", {"text": f"medicare id {v}"}, ev("spaced", "HEALTH_PLAN_ID", v))


def clean() -> None:
    texts = [
        "Order #A-77120-45 shipped via UPS, tracking 1Z 999 AA1 01 2345 6784.",
        "SKU 4006381333931 is out of stock in the Leeds warehouse.",
        "The reference textbook is ISBN 978-1-4028-9462-6, second printing.",
        "Deploy 3f9c2e1a7b6d4c8e9f0a1b2c3d4e5f60718293a4 rolled back at 14:02 UTC.",
        "Upgraded the cluster from v1.27.14 to v1.28.9; node image 5.15.0.1057.",
        "Request 6f1d2c3b-9a8e-4f7d-b6c5-a4b3c2d1e0f9 took 742 ms (p99 1.8 s).",
        "Timestamp 1718031245 corresponds to 2024-06-10T14:54:05Z.",
        "Potassium 5.9 mmol/L, sodium 138, creatinine 1.4 mg/dL, eGFR 52 mL/min/1.73m2.",
        "Titrate 0.1 M NaOH into 25.00 mL of HCl; the endpoint was at 23.45 mL.",
        "The molar mass of C6H12O6 is 180.16 g/mol and of Ca3(PO4)2 is 310.18 g/mol.",
        "Take Martin Luther King Jr. Blvd north, then left on Cesar Chavez Ave.",
        "Parkinson's disease and Hodgkin lymphoma were the topics of grand rounds.",
        "The Gram stain showed gram-positive cocci in clusters; culture pending.",
        "Use a Bunsen burner and an Erlenmeyer flask for the Grignard reaction demo.",
        "The Diels-Alder reaction and Friedel-Crafts acylation are on the midterm.",
        "Henderson-Hasselbalch gives pH = pKa + log([A-]/[HA]).",
        "Michaelis-Menten kinetics: Vmax 120 umol/min, Km 2.5 mM, see Lineweaver-Burk plot.",
        "Johnson & Johnson and Procter & Gamble both reported earnings on Tuesday.",
        "Goldman Sachs raised its price target for Mercedes-Benz to EUR 95.",
        "Fill in the template with John Doe, 123 Main St, Anytown as the sample customer.",
        "Masked SSN on the statement: ***-**-4821. Card on file 4111 **** **** 1111.",
        "Card ending in 0005 was charged $42.10 on 2025-03-02.",
        "Placeholder values: name = <NAME>, email = <EMAIL>, phone = <PHONE>.",
        "Alzheimer's, Crohn's disease and Cushing's syndrome are all eponymous conditions.",
        "Glasgow Coma Scale 15, Apgar scores are only for newborns.",
        "Room B12 is booked; the flight J45 leaves from gate C34 at 9:10.",
        "Vitamin D3 1000 IU and vitamin B12 500 mcg daily were recommended in the article.",
        "Page 3 of 12, figure 4.2, table A-7, equation (3.14).",
        "Coordinates 51.5072 N, 0.1276 W; elevation 11 m.",
        "The SNMP OID 1.3.6.1.2.1.1.3.0 reports sysUpTime.",
        "CAS 7732-18-5 is water; CAS 64-17-5 is ethanol.",
        "DOI 10.1038/s41586-020-2649-2 describes the array programming library.",
        "PMID 31452104 was cited twice in the review.",
        "NDC 0002-8215-01 is the package code on the insulin box in the pharmacology lecture.",
        "CPT 99213 is an established-patient office visit code used in billing lectures.",
        "LOINC 2345-7 is the code for glucose in serum or plasma.",
        "Build 10.0.19045.3803 fixed the driver crash.",
        "Invoice INV-2025-000871 totals EUR 1,284.50, due 2025-04-30.",
        "Batch 2024-11-07-003 yielded 87.4% after recrystallisation.",
        "The reaction 2 H2 + O2 -> 2 H2O releases 572 kJ.",
        "Our office is at 1600 Amphitheatre Parkway; reception opens at 08:30.",
        "The meeting moved from 03/04 to 03/11 at 10:00 in room 4.12.",
        "Published 3rd April 1998; second edition 2004-09-01.",
        "Quarterly revenue rose 12.4% to $3.2B; operating margin 18.9%.",
        "The average adult resting heart rate is 60 to 100 bpm; BP 120/80 is normal.",
        "SpO2 97% on room air, temp 37.2 C, RR 16.",
        "Marie Curie won Nobel Prizes in both physics and chemistry.",
        "Dmitri Mendeleev published the periodic table in 1869.",
        "Abraham Lincoln delivered the Gettysburg Address in 1863.",
        "Le Chatelier's principle predicts the shift when pressure increases.",
        "Avogadro's number is 6.02214076e23 per mole.",
        "Schrodinger's equation and Heisenberg's uncertainty principle were covered this week.",
        "The Krebs cycle produces 2 ATP per glucose via substrate-level phosphorylation.",
        "Use the Heimlich maneuver only when the person cannot cough or speak.",
        "Error E11 on the dishwasher means the drain pump is blocked.",
        "Take exit 42B off I-95 and follow signs for Route 1.",
        "The Ford Focus and the Tesla Model 3 were compared in the fleet review.",
        "Hash sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 verified.",
        "Please set your token in the TOKEN environment variable; never commit it.",
        "Example: curl -H 'Authorization: Bearer <token>' https://api.example.com/v1/items",
        "Docs: replace sk_live_xxxxxxxxxxxxxxxxxxxxxxxx with your own key.",
        "AWS keys look like AKIA followed by 16 characters; ours live in the vault.",
        "Contact support through the portal; do not send personal data by chat.",
        "Sample address for the tutorial: jane.doe@example.com (not a real mailbox).",
        "Semantic version 2.14.0-rc.1+build.5 was tagged yesterday.",
        "Serial no. SN-4F7A-22C9-81B0 registered to the lab.",
        "The Ksp of BaSO4 is 1.1e-10 at 25 C.",
        "Warehouse bin A-12-03-B holds 144 units of part 8812-0044.",
        "Tracking number 9400 1000 0000 0000 0000 00 is the USPS format example.",
        "Ticket JIRA-48213 is blocked by JIRA-48177.",
        "The seminar on the Nernst equation runs from 2:00 to 3:30 pm.",
        "Heat 250 mL of water to 80 C and dissolve 12.5 g of KNO3.",
        "patient education leaflet: how to use a peak flow meter",
        "Refill reminders go out 7 days before the supply ends.",
        "The formulary moved atorvastatin 40 mg to tier 1.",
        "Down syndrome screening is offered between 10 and 14 weeks.",
        "Our agent pool has 12 workers; queue depth peaked at 3,450 at 09:15.",
        "Policy version 2025.03.1 adds the external analytics route.",
        "Wells Fargo and Morgan Stanley both cut fees this quarter.",
        "Dr. Seuss books are in aisle 7 next to the Harry Potter series.",
        "St. Mary's Hospital and Johns Hopkins lead the rankings.",
        "Kaplan-Meier curves showed no difference at 24 months (p = 0.41).",
        "Bland-Altman analysis: bias 0.3, limits of agreement -1.1 to 1.7.",
        "The pKa of acetic acid is 4.76; of ammonium 9.25.",
    ]  # fmt: skip
    shapes = [
        lambda t: {"text": t},
        lambda t: {"messages": [{"role": "user", "content": t}]},
        lambda t: {"task": "relay", "payload": {"body": t, "priority": "low"}},
        lambda t: {"from_agent": "ops-2", "to_agent": "planner", "content": t},
        lambda t: {"event": {"kind": "note", "data": {"detail": t}}},
    ]
    for i, t in enumerate(texts):
        add("clean", shapes[i % len(shapes)](t))
    # structured hard negatives
    add(
        "clean",
        {"order_id": "ORD-" + digits(10), "sku": "SKU-" + digits(6), "qty": 3, "unit_price": 19.99},
    )
    add("clean", {"commit": chars(HEX, 40), "author": "ci-bot", "message": "bump deps"})
    add(
        "clean",
        {"checksum": {"sha256": chars(HEX, 64), "md5": chars(HEX, 32)}, "file": "report.pdf"},
    )
    add("clean", {"ids": [str(R.randint(10**7, 10**8 - 1)) for _ in range(5)], "kind": "product"})
    add("clean", {"ssn_last4": digits(4), "verified": True})
    add("clean", {"card": {"last4": digits(4), "brand": "visa", "exp_month": 7, "exp_year": 2028}})
    add("clean", {"reference": group(bad_card("4", 16), [4, 4, 4, 4], "-"), "status": "processed"})
    add("clean", {"text": f"Order number {bad_card('37', 15)} was refunded."})
    add("clean", {"provider_ref": bad_npi(), "note": "internal directory id"})
    add(
        "clean",
        {"uuid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "created": "2025-01-09T08:00:00+00:00"},
    )
    add(
        "clean",
        {
            "image": {
                "mime": "image/png",
                "data": base64.b64encode(bytes(R.randrange(256) for _ in range(60))).decode(),
            }
        },
    )
    add(
        "clean",
        {
            "integrity": "sha512-"
            + base64.b64encode(bytes(R.randrange(256) for _ in range(64))).decode()
        },
    )
    add(
        "clean",
        {
            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"
            + chars(B64, 43)
            + " deploy@build-01"
        },
    )
    add("clean", {"cert": pem("CERTIFICATE", 5)})
    add(
        "clean",
        {
            "jwks": {
                "keys": [
                    {"kty": "RSA", "kid": chars(HEX, 8), "e": "AQAB", "n": chars(URLSAFE, 120)}
                ]
            }
        },
    )
    add(
        "clean",
        {"iban_example": "IBAN format: two letters, two check digits, then up to 30 characters."},
    )
    add(
        "clean",
        {
            "metrics": [
                {"name": "latency_ms", "p50": 12.4, "p95": 88.1},
                {"name": "rps", "value": 1450},
            ]
        },
    )
    add(
        "clean",
        {
            "lab_results": [
                {"test": "HbA1c", "value": "6.1 %"},
                {"test": "LDL", "value": "3.4 mmol/L"},
            ],
            "panel": "lipids",
        },
    )
    add("clean", {"csv": "date,product,units\n2025-02-01,widget,120\n2025-02-02,gadget,98\n"})
    add(
        "clean",
        {"markdown": "| Reagent | Amount |\n|---|---|\n| NaCl | 5.85 g |\n| H2O | 100 mL |"},
    )
    add(
        "clean",
        {"log": "2025-03-14T09:12:44.120Z INFO worker-3 job=reindex took=1532ms items=20411"},
    )
    add(
        "clean",
        {
            "placeholder": {
                "name": "Jane Doe",
                "phone": "(555) 555-5555",
                "email": "user@example.com",
            }
        },
    )
    add("clean", {"version": "4.2.1.7", "min_supported": "3.9.0"})
    add("clean", {"text": "Contact our pharmacy team for refill questions; hours are 9 to 5."})
    add("clean", {"schedule": {"dates": ["2025-04-03", "2025-04-10"], "room": "Lab 2"}})


def main() -> None:
    pii()
    phi()
    pci()
    secrets()
    evasions()
    clean()
    rows = []
    for i, (category, payload, ents) in enumerate(CASES, 1):
        strings = list(_strings(payload))
        for e in ents:
            if not any(e["value"] in s for s in strings):
                raise SystemExit(f"probe-{i:04d}: {e['type']} value not in payload")
        rows.append({"id": f"probe-{i:04d}", "payload": payload, "entities": ents,
                     "expect": "sensitive" if ents else "clean", "category": category})  # fmt: skip
        if category != "clean" and not ents:
            raise SystemExit(f"probe-{i:04d}: sensitive case without entities")
    order = list(range(len(rows)))
    R.shuffle(order)
    lines = []
    for new_id, idx in enumerate(order, 1):
        row = rows[idx]
        row["id"] = f"probe-{new_id:04d}"
        lines.append(json.dumps(row, ensure_ascii=False))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


if __name__ == "__main__":
    main()
