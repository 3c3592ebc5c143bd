"""A seller's own U.S. address, where forwarded returns go."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

# USPS two-letter codes: states, DC, territories and the armed-forces "states".
USPS_STATE_CODES = frozenset(
    {
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
        "DC",
        "AS",
        "GU",
        "MP",
        "PR",
        "VI",
        "UM",
        "FM",
        "MH",
        "PW",
        "AA",
        "AE",
        "AP",
    }
)

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _state(value: str) -> str:
    code = value.strip().upper()
    if code not in USPS_STATE_CODES:
        raise PydanticCustomError(
            "us_state",
            "'{value}' is not a USPS two-letter state code (for example NY, WA, PR)",
            {"value": value},
        )
    return code


UsState = Annotated[str, Field(description="USPS two-letter state code"), AfterValidator(_state)]


class USAddress(BaseModel):
    """A U.S. postal address; validated strictly because a parcel will be shipped to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Line
    """Addressee."""
    street: Line
    """Street address."""
    street2: Line | None = None
    """Apartment, suite, unit."""
    city: Line
    """City or town."""
    state: UsState
    """USPS two-letter code."""
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{5}(-\d{4})?$")]
    """ZIP or ZIP+4."""
    country: Literal["US"] = "US"
    """Always ``US``."""
