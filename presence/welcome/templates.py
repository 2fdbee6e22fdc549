"""Message texts per template and language (nl, en).

A message travels on the device's own topic, which is pseudonymous: it must carry
nothing that ties the device to a person (issue 18, finding 7). So personal values are
never rendered into it: the name stays a ``{name}`` placeholder that the app, which
knows its own user, fills in; order numbers are left out (the app lists its user's
orders). Only the offer itself (a category, a pickup point) is written in.
"""

from __future__ import annotations

from presence.welcome.policy import (
    TEMPLATE_BIRTHDAY,
    TEMPLATE_GENERIC,
    TEMPLATE_ORDER_READY,
    TEMPLATE_PURCHASE_OFFER,
    TEMPLATE_ZONE_OFFER,
    Content,
)

__all__ = [
    "PERSONAL_PARAMS",
    "APP_FILLS",
    "TEXTS",
    "CATEGORY_NAMES",
    "render",
]


#: Content parameters that identify a customer: never written into a message.
PERSONAL_PARAMS = frozenset({"name", "order_id", "birthday"})
#: Placeholders left in the text for the app to fill from its own user's profile.
APP_FILLS = ("name",)

#: (template, language) -> (title, body); ``{category}`` etc. come from Content.params,
#: ``{name}`` is left for the app.
TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    (TEMPLATE_ORDER_READY, "en"): (
        "Your order is ready",
        "Hi {name}, your order is ready for you at the {pickup_point}.",
    ),
    (TEMPLATE_ORDER_READY, "nl"): (
        "Je bestelling ligt klaar",
        "Hoi {name}, je bestelling ligt voor je klaar bij de {pickup_point}.",
    ),
    (TEMPLATE_BIRTHDAY, "en"): (
        "Happy birthday!",
        "Happy birthday, {name}! Show this message at the checkout for a birthday treat.",
    ),
    (TEMPLATE_BIRTHDAY, "nl"): (
        "Gefeliciteerd!",
        "Gefeliciteerd, {name}! Laat dit bericht zien bij de kassa voor een verjaardagsverrassing.",
    ),
    (TEMPLATE_ZONE_OFFER, "en"): (
        "Something for you in {category}",
        "Hi {name}, members get 10% off in {category} today.",
    ),
    (TEMPLATE_ZONE_OFFER, "nl"): (
        "Iets voor jou bij {category}",
        "Hoi {name}, leden krijgen vandaag 10% korting bij {category}.",
    ),
    (TEMPLATE_PURCHASE_OFFER, "en"): (
        "New in {category}",
        "Welcome back, {name}! New arrivals in {category} go well with your last purchase.",
    ),
    (TEMPLATE_PURCHASE_OFFER, "nl"): (
        "Nieuw bij {category}",
        "Welkom terug, {name}! De nieuwe {category}-collectie past goed bij je laatste aankoop.",
    ),
    (TEMPLATE_GENERIC, "en"): ("Welcome", "Welcome, {name}! Good to see you in the store."),
    (TEMPLATE_GENERIC, "nl"): ("Welkom", "Welkom, {name}! Leuk dat je er bent."),
}

#: Category and zone names as customers read them.
CATEGORY_NAMES: dict[str, dict[str, str]] = {
    "nl": {
        "womens": "dames",
        "mens": "heren",
        "shoes": "schoenen",
        "accessories": "accessoires",
        "kids": "kinderen",
        "denim": "denim",
        "sport": "sport",
        "outerwear": "jassen",
    },
    "en": {"womens": "women's", "mens": "men's"},
}


def render(content: Content) -> tuple[str, str]:
    """Title and body of a message, with ``{name}`` left for the app (see the module doc)."""
    title, body = TEXTS[(content.template, content.language)]
    values = {k: v for k, v in content.params if k not in PERSONAL_PARAMS}
    values.update({k: "{" + k + "}" for k in APP_FILLS})
    if "category" in values:
        raw = values["category"]
        values["category"] = CATEGORY_NAMES.get(content.language, {}).get(
            raw, raw.replace("_", " ")
        )
    return title.format(**values), body.format(**values)
