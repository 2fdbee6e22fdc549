"""The welcome policy: a pure function from what is known at decision time to a decision.

Nothing here reads a clock, a database or the network; the service gathers a
:class:`WelcomeRequest` and records the :class:`Decision`. Time is the event's time
on the observation clock, so replays decide exactly as live runs did.

Checks, in order (the first that applies is the reason):
staff device, unknown device, no marketing consent, visit already messaged,
quiet hours, cooldown, daily cap, weekly cap, control group; then the content by
relevance: order ready for pickup > birthday > offer (zone or recent purchases) > generic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from presence.crm.profile import CustomerFacts

__all__ = [
    "choose_content",
    "Content",
    "CONTROL",
    "decide",
    "Decision",
    "DEFAULT_BIRTHDAY_WINDOW_DAYS",
    "DEFAULT_CONTROL_SALT",
    "DEFAULT_CONTROL_SHARE",
    "DEFAULT_COOLDOWN_S",
    "DEFAULT_DAILY_CAP",
    "DEFAULT_LANGUAGE",
    "DEFAULT_QUIET_END_HOUR",
    "DEFAULT_QUIET_START_HOUR",
    "DEFAULT_RECENT_PURCHASE_WINDOW_S",
    "DEFAULT_TIMEZONE",
    "DEFAULT_WEEKLY_CAP",
    "in_control_group",
    "LANGUAGES",
    "NON_PRODUCT_ZONES",
    "PolicyParams",
    "REASON_CONTROL",
    "REASON_COOLDOWN",
    "REASON_DAILY_CAP",
    "REASON_NO_CONSENT",
    "REASON_QUIET_HOURS",
    "REASON_STAFF",
    "REASON_UNKNOWN_DEVICE",
    "REASON_VISIT_DONE",
    "REASON_WEEKLY_CAP",
    "SEND",
    "SUPPRESS",
    "TEMPLATE_BIRTHDAY",
    "TEMPLATE_GENERIC",
    "TEMPLATE_ORDER_READY",
    "TEMPLATE_PURCHASE_OFFER",
    "TEMPLATE_ZONE_OFFER",
    "TRIGGER_DWELL",
    "TRIGGER_ENTER",
    "WEEK_S",
    "WelcomeRequest",
]

SEND = "send"
SUPPRESS = "suppress"
CONTROL = "control"

TRIGGER_ENTER = "store.enter"
TRIGGER_DWELL = "dwell.start"

# Reasons a welcome is not sent (stored in the decision log; docs/consent-and-welcome.md).
REASON_STAFF = "staff_device"
REASON_UNKNOWN_DEVICE = "unknown_device"
REASON_NO_CONSENT = "no_marketing_consent"
REASON_VISIT_DONE = "already_messaged_this_visit"
REASON_QUIET_HOURS = "quiet_hours"
REASON_COOLDOWN = "cooldown"
REASON_DAILY_CAP = "daily_cap"
REASON_WEEKLY_CAP = "weekly_cap"
REASON_CONTROL = "control_group"

# Templates, most relevant first; the reason of a sent message is its template.
TEMPLATE_ORDER_READY = "order_ready"
TEMPLATE_BIRTHDAY = "birthday"
TEMPLATE_ZONE_OFFER = "zone_offer"
TEMPLATE_PURCHASE_OFFER = "recent_purchase_offer"
TEMPLATE_GENERIC = "generic"

#: No two welcomes to one customer closer than this, whatever device or store (12 h:
#: a morning and an evening visit may both be greeted, two visits in one afternoon not).
DEFAULT_COOLDOWN_S = 12 * 3600.0
#: At most this many welcomes per calendar day in the store's time zone.
DEFAULT_DAILY_CAP = 1
#: At most this many welcomes in any 7 days (regular shoppers are not greeted daily).
DEFAULT_WEEKLY_CAP = 3
WEEK_S = 7 * 86_400.0
#: Quiet hours, local time: no messages from 21:00 until 08:00.
DEFAULT_QUIET_START_HOUR = 21
DEFAULT_QUIET_END_HOUR = 8
DEFAULT_TIMEZONE = "Europe/Amsterdam"
#: Share of customers held out as a control group (10%: enough to measure uplift
#: over a few weeks of visits while greeting most customers).
DEFAULT_CONTROL_SHARE = 0.10
#: Salt of the control-group hash; changing it reshuffles who is in the group.
DEFAULT_CONTROL_SALT = "instore-welcome-control-v1"
#: A purchase this recent makes a related offer relevant (30 days).
DEFAULT_RECENT_PURCHASE_WINDOW_S = 30 * 86_400.0
#: The birthday greeting applies on the birthday and this many days after it.
DEFAULT_BIRTHDAY_WINDOW_DAYS = 7
#: Zones that are not about products: a dwell there gets no zone offer.
NON_PRODUCT_ZONES = frozenset({"entrance", "checkout", "fitting_rooms", "counter", "lounge"})
DEFAULT_LANGUAGE = "en"
LANGUAGES = ("nl", "en")


@dataclass(frozen=True, slots=True)
class PolicyParams:
    cooldown_s: float = DEFAULT_COOLDOWN_S
    daily_cap: int = DEFAULT_DAILY_CAP
    weekly_cap: int = DEFAULT_WEEKLY_CAP
    quiet_start_hour: int = DEFAULT_QUIET_START_HOUR
    quiet_end_hour: int = DEFAULT_QUIET_END_HOUR
    timezone: str = DEFAULT_TIMEZONE
    control_share: float = DEFAULT_CONTROL_SHARE
    control_salt: str = DEFAULT_CONTROL_SALT
    recent_purchase_window_s: float = DEFAULT_RECENT_PURCHASE_WINDOW_S
    birthday_window_days: int = DEFAULT_BIRTHDAY_WINDOW_DAYS

    def __post_init__(self) -> None:
        if not 0.0 <= self.control_share <= 1.0:
            raise ValueError(f"control_share must be within [0, 1], got {self.control_share}")
        for name in ("quiet_start_hour", "quiet_end_hour"):
            if not 0 <= getattr(self, name) <= 23:
                raise ValueError(f"{name} must be an hour 0..23, got {getattr(self, name)}")
        ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class WelcomeRequest:
    """Everything the policy may know, gathered by the service at decision time."""

    t_s: float  # the event's time (observation clock)
    trigger: str  # TRIGGER_ENTER or TRIGGER_DWELL
    store: str
    device_id: str
    zone: str | None
    is_staff: bool
    customer: CustomerFacts | None  # None: the device is linked to nobody
    marketing_consent: bool  # granted at t_s
    visit_messaged: bool  # a welcome (or control hold-out) already exists for this visit
    contacts_s: tuple[
        float, ...
    ]  # this customer's earlier welcomes and hold-outs, any device/store


@dataclass(frozen=True, slots=True)
class Content:
    template: str
    language: str
    params: tuple[tuple[str, str], ...]  # values filled into the template


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: str  # SEND, SUPPRESS or CONTROL
    reason: str
    content: Content | None = None  # what was (or, for the control group, would have been) sent


def in_control_group(customer_id: str, share: float, salt: str = DEFAULT_CONTROL_SALT) -> bool:
    """Stable hold-out: the same customer is always in or out for a given salt and share."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < share


def decide(req: WelcomeRequest, params: PolicyParams = PolicyParams()) -> Decision:
    """The welcome decision for one trigger event."""
    if req.is_staff:
        return Decision(SUPPRESS, REASON_STAFF)
    if req.customer is None:
        return Decision(SUPPRESS, REASON_UNKNOWN_DEVICE)
    if not req.marketing_consent:
        return Decision(SUPPRESS, REASON_NO_CONSENT)
    if req.visit_messaged:
        return Decision(SUPPRESS, REASON_VISIT_DONE)
    zone = ZoneInfo(params.timezone)
    local = datetime.fromtimestamp(req.t_s, tz=zone)
    if _in_quiet_hours(local.hour, params):
        return Decision(SUPPRESS, REASON_QUIET_HOURS)
    if any(abs(req.t_s - c) < params.cooldown_s for c in req.contacts_s):
        return Decision(SUPPRESS, REASON_COOLDOWN)
    same_day = sum(
        datetime.fromtimestamp(c, tz=zone).date() == local.date() for c in req.contacts_s
    )
    if same_day >= params.daily_cap:
        return Decision(SUPPRESS, REASON_DAILY_CAP)
    if sum(abs(req.t_s - c) < WEEK_S for c in req.contacts_s) >= params.weekly_cap:
        return Decision(SUPPRESS, REASON_WEEKLY_CAP)
    content = choose_content(req, req.customer, local, params)
    if in_control_group(req.customer.customer_id, params.control_share, params.control_salt):
        return Decision(CONTROL, REASON_CONTROL, content)
    return Decision(SEND, content.template, content)


def _in_quiet_hours(hour: int, params: PolicyParams) -> bool:
    start, end = params.quiet_start_hour, params.quiet_end_hour
    if start == end:
        return False
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def choose_content(
    req: WelcomeRequest, customer: CustomerFacts, local: datetime, params: PolicyParams
) -> Content:
    """The most relevant message for this customer, in their language."""
    lang = customer.language if customer.language in LANGUAGES else DEFAULT_LANGUAGE
    name = ("name", customer.given_name)
    here = [o for o in customer.ready_orders if o.pickup_store == req.store]
    if here:
        order = here[0]
        return Content(
            TEMPLATE_ORDER_READY,
            lang,
            (name, ("order_id", order.order_id), ("pickup_point", order.pickup_point)),
        )
    if _birthday_recent(customer, local, params.birthday_window_days):
        return Content(TEMPLATE_BIRTHDAY, lang, (name,))
    if req.trigger == TRIGGER_DWELL and req.zone and req.zone not in NON_PRODUCT_ZONES:
        return Content(TEMPLATE_ZONE_OFFER, lang, (name, ("category", req.zone)))
    if customer.recent_categories:
        return Content(
            TEMPLATE_PURCHASE_OFFER, lang, (name, ("category", customer.recent_categories[0]))
        )
    return Content(TEMPLATE_GENERIC, lang, (name,))


def _birthday_recent(customer: CustomerFacts, local: datetime, window_days: int) -> bool:
    if customer.birthday is None:
        return False
    today = local.date()
    for year in (today.year - 1, today.year):
        try:
            day = customer.birthday.replace(year=year)
        except ValueError:  # 29 February in a common year: celebrate on 28 February
            day = customer.birthday.replace(year=year, day=28)
        if timedelta(0) <= today - day < timedelta(days=window_days):
            return True
    return False
