"""Name lists for synthetic customers (common Dutch and English names; no real people)."""

from __future__ import annotations

__all__ = ["FAMILY_NAMES", "GIVEN_NAMES", "SEGMENTS"]

GIVEN_NAMES: dict[str, tuple[str, ...]] = {
    "nl": (
        "Emma", "Julia", "Sophie", "Mila", "Tess", "Anna", "Lotte", "Sanne", "Femke", "Lieke",
        "Fleur", "Anouk", "Inge", "Marieke", "Noor", "Daan", "Sem", "Lucas", "Noah", "Bram",
        "Thijs", "Ruben", "Jasper", "Niels", "Jeroen", "Pieter", "Willem", "Joris", "Sven", "Koen",
    ),
    "en": (
        "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Emily", "Lily", "Sophia", "Freya",
        "Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "James", "William", "Oscar", "Leo",
    ),
}  # fmt: skip

FAMILY_NAMES: dict[str, tuple[str, ...]] = {
    "nl": (
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
        "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
        "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
    ),
    "en": (
        "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
        "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
        "O'Brien", "Hall", "Wood", "Clarke",
    ),
}  # fmt: skip

SEGMENTS = (
    "families",
    "young_adults",
    "bargain_hunters",
    "premium",
    "sustainability",
    "sports",
    "workwear",
    "online_first",
)
