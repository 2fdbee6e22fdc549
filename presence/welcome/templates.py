"""Message texts per template and language (nl, en)."""

from __future__ import annotations

from presence.welcome.policy import (
    TEMPLATE_BIRTHDAY,
    TEMPLATE_GENERIC,
    TEMPLATE_ORDER_READY,
    TEMPLATE_PURCHASE_OFFER,
    TEMPLATE_ZONE_OFFER,
    Content,
)

#: (template, language) -> (title, body); ``{name}`` etc. come from Content.params.
TEXTS: dict[tuple[str, str], tuple[str, str]] = {
    (TEMPLATE_ORDER_READY, "en"): (
        "Your order is ready",
        "Hi {name}, your order {order_id} is ready for you at the {pickup_point}.",
    ),
    (TEMPLATE_ORDER_READY, "nl"): (
        "Je bestelling ligt klaar",
        "Hoi {name}, je bestelling {order_id} ligt voor je klaar bij de {pickup_point}.",
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
    """Title and body of a message."""
    title, body = TEXTS[(content.template, content.language)]
    values = dict(content.params)
    if "category" in values:
        raw = values["category"]
        values["category"] = CATEGORY_NAMES.get(content.language, {}).get(
            raw, raw.replace("_", " ")
        )
    return title.format(**values), body.format(**values)
