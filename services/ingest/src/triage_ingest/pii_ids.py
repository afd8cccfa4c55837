"""Bank accounts, national IDs, passwords and one-time codes, street addresses.

Formats with a checksum are accepted only when it holds (IBAN mod 97, French NIR key,
Spanish DNI/NIE letter), which keeps order numbers and phone numbers of the same shape
out. Every pattern runs on RE2 (see ``pii``).
"""

from collections.abc import Iterable

from triage_runtime.patterns import compile_pattern
from triage_schemas.enums import PiiKind

IBAN = compile_pattern(r"\b[a-z]{2}\d{2}(?: ?[a-z0-9]{1,4}){3,8}\b", ignore_case=True)
# France's social security number: sex, year, month, department (2A/2B: Corsica),
# commune, order, then a 2-digit key; spaces as people type them.
NIR = compile_pattern(
    r"\b[12] ?\d{2} ?(?:0[1-9]|1[0-2]|[2-9]\d) ?(?:\d{2}|2[ab]) ?\d{3} ?\d{3} ?\d{2}\b", ignore_case=True
)
DNI = compile_pattern(r"\b\d{8}[ -]?[a-z]\b", ignore_case=True)
NIE = compile_pattern(r"\b[xyz][ -]?\d{7}[ -]?[a-z]\b", ignore_case=True)
SSN = compile_pattern(r"\b\d{3}-\d{2}-\d{4}\b")
SECRET = compile_pattern(
    r"\b(?:password|passwd|pwd|passcode|mot de passe|mdp|contrase[ñn]a|clave)\s*(?:is|est|es|:|=)\s*\S{4,}"
    r"|\b(?:otp|2fa|(?:verification|security|login|sms|one[- ]time|confirmation) code|code de v[ée]rification"
    r"|c[óo]digo de verificaci[óo]n)\s*(?:is|est|es|:|=)?\s*\d{4,8}\b",
    ignore_case=True,
)
STREET = compile_pattern(
    r"\b\d{1,5}[a-zA-Z]?,? (?:[A-Z][\w'.-]* ){1,3}(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr"
    r"|way|court|ct|place|pl|terrace|crescent)\b"
    r"|\b\d{1,4}(?: ?(?:bis|ter))?,? (?i:rue|avenue|av\.|boulevard|bd|place|impasse|all[ée]e|chemin|quai|route) "
    r"(?:de |du |des |d'|la |le |l')*\p{Lu}[\w'-]+"
    r"|\b(?i:calle|c/|avenida|avda\.?|plaza|paseo|camino) (?:de |del |la |los |las )*\p{Lu}[\w'-]*"
    r"(?: \p{Lu}[\w'-]*){0,2},? (?:n[º°o]\.? ?)?\d{1,4}\b"
)
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def iban_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "").upper()
    if not 15 <= len(code) <= 34 or not code[2:4].isdigit():
        return False
    rearranged = code[4:] + code[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def nir_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "").upper()
    if len(code) != 15:
        return False
    body, key = code[:13], int(code[13:])
    # Corsica: 2A and 2B count as 19 and 18 for the key.
    corsica = {"2A": "19", "2B": "18"}.get(body[5:7])
    if corsica is not None:
        body = body[:5] + corsica + body[7:]
    return body.isdigit() and 97 - int(body) % 97 == key


def dni_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "").replace("-", "").upper()
    return len(code) == 9 and code[:8].isdigit() and DNI_LETTERS[int(code[:8]) % 23] == code[8]


def nie_valid(candidate: str) -> bool:
    code = candidate.replace(" ", "").replace("-", "").upper()
    return len(code) == 9 and dni_valid(str("XYZ".index(code[0])) + code[1:])


def ssn_valid(candidate: str) -> bool:
    area, group, serial = candidate.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def identifier_kinds(text: str) -> Iterable[PiiKind]:
    """The kinds found in ``text`` among bank accounts, national IDs, secrets and addresses."""
    if any(iban_valid(m.group(0)) for m in IBAN.finditer(text)):
        yield PiiKind.IBAN
    if (
        any(nir_valid(m.group(0)) for m in NIR.finditer(text))
        or any(dni_valid(m.group(0)) for m in DNI.finditer(text))
        or any(nie_valid(m.group(0)) for m in NIE.finditer(text))
        or any(ssn_valid(m.group(0)) for m in SSN.finditer(text))
    ):
        yield PiiKind.NATIONAL_ID
    if SECRET.search(text):
        yield PiiKind.PASSWORD
    if STREET.search(text):
        yield PiiKind.STREET_ADDRESS
