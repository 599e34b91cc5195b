"""Generated assistant dialogues: seeded, reproducible conversations that teach memory use.

The user tells facts and preferences (names, dates, places, likes, plans ...) and, in later
dialogues, asks about them with a `<|memory|>` block of recalled snippets: the relevant one among
distractors. The assistant answers with the value copied from the block, or says it does not know
when the block lacks it. Short general exchanges (greetings, thanks, what it can do, requests it
cannot do) teach the assistant's manner.

Names and values come from two disjoint pools: `TRAIN` for the training corpus and `EVAL` for the
held-out memory cases, so an evaluation can tell copying from memorising.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from functools import lru_cache

# --- value pools ------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _items(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


@dataclass(frozen=True)
class Pools:
    """Everything a generated fact can be about. Dates and numbers are split by a rule (`eval_side`)."""

    eval_side: bool
    names: tuple[str, ...]
    pet_names: tuple[str, ...]
    cities: tuple[str, ...]
    foods: tuple[str, ...]
    drinks: tuple[str, ...]
    colours: tuple[str, ...]
    sports: tuple[str, ...]
    fruits: tuple[str, ...]
    animals: tuple[str, ...]
    jobs: tuple[str, ...]
    activities: tuple[str, ...]
    allergies: tuple[str, ...]
    languages: tuple[str, ...]
    instruments: tuple[str, ...]
    subjects: tuple[str, ...]
    gifts: tuple[str, ...]
    places: tuple[str, ...]
    title_adjectives: tuple[str, ...]
    title_nouns: tuple[str, ...]
    code_words: tuple[str, ...]
    syllables: tuple[str, ...] = ()  # for invented names (training only)

    def lists(self) -> dict[str, tuple[str, ...]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "eval_side"}


TRAIN = Pools(
    eval_side=False,
    names=_words(
        "Emma Olivia Ava Sophia Mia Amelia Harper Evelyn Abigail Emily Ella Elizabeth Camila Luna "
        "Sofia Avery Mila Aria Scarlett Penelope Layla Chloe Victoria Madison Eleanor Grace Nora Riley "
        "Zoey Hannah Hazel Lily Ellie Violet Lillian Zoe Stella Aurora Natalie Emilia Everly Leah "
        "Aubrey Willow Addison Lucy Audrey Bella Nova Brooklyn Paisley Savannah Claire Skylar Isla "
        "Genesis Naomi Elena Caroline Eliana Anna Maya Valentina Ruby Kennedy Ivy Ariana Aaliyah Cora "
        "Madelyn Alice Kinsley Hailey Gabriella Allison Gianna Serenity Samantha Sarah Quinn Eva Piper "
        "Sophie Sadie Delilah Josephine Nevaeh Adeline Arya Emery Lydia Clara Vivian Madeline Peyton "
        "Julia Rylee Brielle Reagan Natalia Jade Athena Maria Leilani Everleigh Liliana Melanie "
        "Mackenzie Hadley Raelynn Kaylee Rose Arianna Isabelle Melody Eliza Lyla Katherine Aubree "
        "Adalynn Kylie Faith Mary Margaret Ximena Iris Alexandra Jasmine Charlie Amaya Taylor Isabel "
        "Ashley Khloe Ryleigh Alexa Amara Valeria Andrea Parker Norah Eden Elliana Brianna Emersyn "
        "Liam Noah William James Oliver Benjamin Elijah Lucas Mason Logan Alexander Ethan Jacob "
        "Michael Daniel Henry Jackson Sebastian Aiden Matthew Samuel David Joseph Carter Owen Wyatt "
        "John Jack Luke Jayden Dylan Grayson Levi Isaac Gabriel Julian Mateo Anthony Jaxon Lincoln "
        "Joshua Christopher Andrew Theodore Caleb Ryan Asher Nathan Thomas Leo Isaiah Charles Josiah "
        "Hudson Christian Hunter Connor Eli Ezra Aaron Landon Adrian Jonathan Nolan Jeremiah Easton "
        "Elias Colton Cameron Carson Robert Angel Maverick Nicholas Dominic Jaxson Greyson Adam Ian "
        "Austin Santiago Jordan Cooper Brayden Roman Evan Ezekiel Xavier Jose Jace Jameson Leonardo "
        "Bryson Axel Everett Parker Kayden Miles Sawyer Jason Declan Weston Micah Ayden Wesley Luca "
        "Vincent Damian Zachary Silas Gavin Chase Kai Emmett Harrison Nathaniel Kingston Cole Tyler "
        "Bennett Bentley Ryker Tristan Brandon Kevin Luis George Ashton Rowan Braxton Ryder Gael Ivan "
        "Diego Maxwell Max Carlos Kaiden Juan Maddox Justin Waylon Calvin Giovanni Jonah Abel Jayce "
        "Jesus Amir King Beau Camden Alex Jasper Malachi Brody Jude Blake Emmanuel Eric Brooks Elliot "
        "Antonio Abraham Timothy Finn Rhett Elliott Edward August Xander Alan Dean Lorenzo Bryce "
        "Karter Victor Milo Miguel Hayden Graham Grant Zion Tucker Jesse Zayden Joel Richard Patrick "
        "Priya Anika Ravi Arjun Deepa Sanjay Kavya Rohan Meera Vikram Aisha Omar Fatima Yusuf Layla "
        "Hassan Zainab Karim Leila Tariq Mei Wei Jun Hana Yuki Haruto Sakura Kenji Min-jun Seo-yeon "
        "Ji-woo Chen Lin Ling Thabo Amara Kwame Ngozi Chidi Ayodele Zola Kofi Ines Mateus Beatriz "
        "Joao Lucia Pablo Carmen Javier Rocio Alejandro Guadalupe Ingrid Lars Sven Astrid Freya Bjorn "
        "Sigrid Nils Katya Dmitri Olga Ivan Anya Sergei Tatiana Pierre Colette Margaux Antoine Elodie "
        "Hugo Klaus Greta Lukas Anke Matteo Giulia Francesca Marco Chiara Sean Siobhan Niamh Ciaran "
        "Aoife Rhys Cerys Dafydd Fiona Hamish Morag"
    ),
    pet_names=_words(
        "Biscuit Pepper Max Bella Charlie Luna Cooper Daisy Milo Rosie Teddy Bailey Coco Buddy Molly "
        "Oscar Poppy Ziggy Pickle Muffin Waffles Noodle Peanut Ginger Shadow Smokey Tiger Oreo Nala "
        "Simba Loki Thor Rocky Duke Bruno Maple Honey Cinnamon Pumpkin Whiskers Mittens Socks Patches "
        "Bubbles Nibbles Sprinkles Marshmallow Toffee Fudge Cookie Pretzel Nugget Dumpling Sushi Taco "
        "Kiwi Mango Olive Pebble Rusty Scout Ranger Bandit Pirate Captain Duchess Princess Baron Gizmo"
    ),
    cities=_items(
        "London, Paris, Berlin, Madrid, Rome, Vienna, Prague, Warsaw, Budapest, Amsterdam, Brussels, "
        "Copenhagen, Stockholm, Oslo, Helsinki, Dublin, Edinburgh, Manchester, Liverpool, Bristol, "
        "Leeds, Glasgow, Cardiff, Belfast, Munich, Hamburg, Cologne, Frankfurt, Zurich, Geneva, Milan, "
        "Naples, Florence, Venice, Barcelona, Valencia, Seville, Porto, Athens, Istanbul, Krakow, "
        "Bucharest, Sofia, Zagreb, Belgrade, Riga, Vilnius, Tallinn, New York, Boston, Chicago, "
        "San Francisco, Los Angeles, Seattle, Portland, Denver, Austin, Dallas, Houston, Miami, "
        "Atlanta, Philadelphia, Pittsburgh, Detroit, Minneapolis, Nashville, New Orleans, Phoenix, "
        "San Diego, Toronto, Montreal, Vancouver, Ottawa, Calgary, Mexico City, Guadalajara, Bogota, "
        "Lima, Santiago, Buenos Aires, Sao Paulo, Rio de Janeiro, Montevideo, Havana, Tokyo, Osaka, "
        "Kyoto, Seoul, Busan, Beijing, Shanghai, Hong Kong, Taipei, Singapore, Bangkok, Hanoi, Manila, "
        "Jakarta, Kuala Lumpur, Mumbai, Delhi, Bangalore, Chennai, Kolkata, Karachi, Dubai, Doha, "
        "Tel Aviv, Cairo, Casablanca, Tunis, Nairobi, Lagos, Accra, Addis Ababa, Cape Town, "
        "Johannesburg, Sydney, Melbourne, Brisbane, Perth, Auckland, Wellington, York, Oxford, "
        "Cambridge, Bath, Brighton, Nottingham, Sheffield, Newcastle, Aberdeen, Galway, Cork, Lyon, "
        "Marseille, Bordeaux, Nice, Toulouse, Stuttgart, Dresden, Leipzig, Salzburg, Ghent, Antwerp, "
        "Utrecht, Rotterdam, Gothenburg, Bergen, Aarhus, Turin, Bologna, Palermo, Granada, Bilbao"
    ),
    foods=_items(
        "pizza, sushi, lasagne, tacos, ramen, curry, pad thai, paella, risotto, burgers, dumplings, "
        "pancakes, fish and chips, spaghetti carbonara, chicken tikka masala, falafel, hummus, "
        "shepherd's pie, roast chicken, beef stew, mac and cheese, fried rice, pho, burritos, "
        "enchiladas, moussaka, goulash, pierogi, gnocchi, tiramisu, cheesecake, apple pie, "
        "chocolate cake, banana bread, scrambled eggs, porridge, tomato soup, lentil soup, "
        "grilled salmon, steak, meatballs, omelettes, quiche, nachos, spring rolls, bibimbap, "
        "katsu curry, biryani, dal, samosas, kebabs, waffles, croissants, brownies, lemon tart, "
        "mushroom risotto, vegetable stir fry, chili con carne, carrot cake, French toast"
    ),
    drinks=_items(
        "coffee, green tea, black tea, hot chocolate, orange juice, lemonade, apple juice, "
        "sparkling water, iced coffee, chai, mint tea, espresso, cappuccino, latte, ginger beer, "
        "smoothies, milkshakes, cola, cider, chamomile tea"
    ),
    colours=_items(
        "blue, green, red, yellow, purple, orange, pink, black, white, grey, navy blue, dark green, "
        "sky blue, lavender, maroon, gold, silver, brown"
    ),
    sports=_items(
        "football, tennis, basketball, swimming, cycling, running, rugby, cricket, golf, volleyball, "
        "badminton, table tennis, hockey, baseball, skiing, climbing, rowing, boxing, yoga, surfing"
    ),
    fruits=_items(
        "apples, bananas, strawberries, mangoes, pineapples, grapes, cherries, peaches, pears, "
        "oranges, watermelon, blueberries, raspberries, plums, kiwis"
    ),
    animals=_items(
        "dogs, cats, horses, elephants, dolphins, owls, foxes, penguins, otters, tigers, rabbits, "
        "wolves, bears, giraffes, koalas, turtles, parrots"
    ),
    jobs=_items(
        "nurse, teacher, software developer, accountant, architect, electrician, chef, plumber, "
        "doctor, dentist, pharmacist, lawyer, journalist, photographer, graphic designer, "
        "engineer, librarian, firefighter, police officer, pilot, mechanic, carpenter, baker, "
        "barista, hairdresser, vet, physiotherapist, social worker, translator, data analyst, "
        "project manager, shop assistant, bus driver, gardener, musician, painter, researcher, "
        "lecturer, midwife, paramedic, civil engineer, web designer, estate agent, receptionist, "
        "office manager, sales manager, marketing manager, personal trainer, optician, tailor"
    ),
    activities=_items(
        "go hiking, go swimming, paint the kitchen, bake bread, see a concert, visit the museum, "
        "go to the cinema, clean the garage, go camping, play tennis, have a picnic, go fishing, "
        "watch the football, go to the beach, repair the bike, plant tomatoes, go skiing, "
        "go to a wedding, study for the exam, go shopping for shoes, cook a big dinner, "
        "go to the dentist, meet some old friends, go dancing, read in the park, go to the zoo, "
        "drive to the coast, wash the car, go to a birthday party, take the train to the mountains, "
        "go to the farmers market, paint a picture, go running by the river, watch a play, "
        "visit the aquarium, go ice skating, practise the piano, go to the gym, mow the lawn, "
        "build a bookshelf, go bowling, go to a football match, sort out the attic"
    ),
    allergies=_items(
        "peanuts, shellfish, penicillin, cats, pollen, eggs, strawberries, dust mites, bee stings, "
        "latex, milk, wheat, tree nuts, fish, dogs"
    ),
    languages=_items(
        "Spanish, French, German, Italian, Japanese, Mandarin, Portuguese, Russian, Arabic, Korean, "
        "Dutch, Swedish, Greek, Turkish, Hindi, Polish"
    ),
    instruments=_items(
        "piano, guitar, violin, drums, flute, cello, saxophone, trumpet, ukulele, clarinet, bass guitar, harp"
    ),
    subjects=_items(
        "history, chemistry, physics, mathematics, biology, economics, psychology, English literature, "
        "computer science, philosophy, geography, law, medicine, music, art history, engineering, "
        "politics, sociology, nursing, architecture"
    ),
    gifts=_items(
        "a scarf, a book about birds, a pair of gloves, a board game, a watch, a cookbook, "
        "a photo album, a plant, a mug, a necklace, concert tickets, a jigsaw puzzle, a wallet, "
        "a teddy bear, a bike helmet, a candle, a bottle of olive oil, a sketchbook, headphones"
    ),
    places=_items(
        "in the top drawer, under the sofa, in the kitchen cupboard, on the bookshelf, in the car, "
        "in the coat pocket, on the hall table, in the blue box, behind the microwave, in the garage, "
        "in the bedside table, in the bathroom cabinet, on top of the fridge, in the glovebox, "
        "in the backpack, by the front door, in the shoe rack, on the piano"
    ),
    title_adjectives=_words(
        "Silent Golden Hidden Last Broken Lost Secret Distant Frozen Burning Little Wild Quiet "
        "Endless Crimson Silver Shining Dark Bright Forgotten Lonely Velvet Northern Winter Summer"
    ),
    title_nouns=_words(
        "River Garden Mountain Kingdom Island Road Storm Forest Harbour Tower Journey Window Letter "
        "Promise Shadow Lantern Voyage Valley Mirror Song Orchard Bridge Lighthouse Meadow Castle"
    ),
    code_words=_words(
        "maple tiger river cloud apple falcon pepper rocket willow ocean copper breeze marble "
        "thunder violet pebble comet lemon cedar harbor canyon velvet sparrow meadow"
    ),
    syllables=_words("ka lo mi ra ven ti sa no rel dor an bel is ma tor el vi na ro sel gar fin"),
)

EVAL = Pools(
    eval_side=True,
    names=_words(
        "Ottoline Barnaby Perpetua Thaddeus Clementine Ignatius Philippa Leopold Wilhelmina "
        "Cornelius Rosalind Bartholomew Henrietta Percival Marguerite Augustin Ysolde Caspian "
        "Anouk Evander Seraphina Lysander Odalys Fenwick Marisol Torvald Isadora Ambrose Delphine "
        "Alaric Saoirse Emrys Ottilie Cassius Larkin Briar Tamsin Florian Lucasta Gideon Yolanda "
        "Ravindra Suvi Teodor Noemi Radomir Xiomara Benedikt Ilse Casimir Lorelei Osric Jacinta "
        "Wendell Rosamund Quillon Anneliese Dorian Esperanza Ulric Marisa Hollis Zinnia Fitzgerald "
        "Pilar Evadne Ramsay Calliope Bertrand Tindra Hartley Ione Lazarus Mireille Oakley Petronella"
    ),
    pet_names=_words(
        "Crumpet Zephyr Bramble Tinsel Gumdrop Juniper Quincy Wobble Paprika Truffle Sherbet Nutmeg "
        "Clover Pipsqueak Tofu Custard Fidget Dandelion Jellybean Pistachio Moxie Turnip Bauble Sprocket"
    ),
    cities=_items(
        "Lisbon, Reykjavik, Ljubljana, Bratislava, Valletta, Tbilisi, Yerevan, Baku, Almaty, Tashkent, "
        "Ulaanbaatar, Kathmandu, Colombo, Dhaka, Yangon, Phnom Penh, Vientiane, Cebu, Hobart, "
        "Christchurch, Nuuk, Halifax, Winnipeg, Quebec City, Anchorage, Honolulu, Santa Fe, "
        "Charleston, Oaxaca, Tucson, Cartagena, Quito, La Paz, Asuncion, Valparaiso, Cusco, Marrakesh, "
        "Zanzibar, Windhoek, Kigali, Dakar, Tromso, Innsbruck, Lucerne, Trieste, Dubrovnik, "
        "Plovdiv, Sarajevo, Ohrid, Kotor"
    ),
    foods=_items(
        "ratatouille, jambalaya, okonomiyaki, shakshuka, pastel de nata, borscht, ceviche, "
        "khachapuri, laksa, jollof rice, bobotie, poutine, tagine, arancini, baklava, "
        "fish tacos with lime, pierogi ruskie, kedgeree, cassoulet, gado gado, spanakopita, "
        "injera with lentils, massaman curry, clafoutis, bouillabaisse"
    ),
    drinks=_items("kombucha, rooibos tea, horchata, matcha latte, elderflower cordial, lassi, yerba mate, dandelion tea"),
    colours=_items("teal, turquoise, burgundy, mustard yellow, coral, olive green, indigo, peach"),
    sports=_items("fencing, curling, water polo, lacrosse, archery, kayaking, handball, squash"),
    fruits=_items("lychees, papayas, pomegranates, figs, apricots, passion fruit, persimmons, gooseberries"),
    animals=_items("axolotls, pangolins, capybaras, red pandas, hedgehogs, flamingos, seahorses, lemurs"),
    jobs=_items(
        "beekeeper, cartographer, glassblower, sommelier, zookeeper, locksmith, stonemason, "
        "florist, blacksmith, puppeteer, watchmaker, meteorologist, archivist, upholsterer, "
        "orthodontist, geologist, lighthouse keeper, ferry captain, bookbinder, piano tuner"
    ),
    activities=_items(
        "go kayaking, repaint the fence, visit the botanical gardens, go to a pottery class, "
        "see the fireworks, go birdwatching, bake a lemon cake, go to a jazz festival, "
        "climb the old castle hill, go paddleboarding, clear out the shed, go to a quiz night, "
        "take the ferry to the island, go horse riding, build a treehouse, go stargazing, "
        "go to a book signing, learn to juggle, go apple picking, wallpaper the hallway"
    ),
    allergies=_items("sesame, kiwi fruit, walnuts, mustard, ibuprofen, hazelnuts, celery, soy, buckwheat, lupin"),
    languages=_items("Finnish, Icelandic, Swahili, Vietnamese, Hungarian, Welsh, Catalan, Tagalog"),
    instruments=_items("banjo, oboe, accordion, harmonica, bassoon, mandolin, sitar, tuba"),
    subjects=_items("astronomy, linguistics, archaeology, marine biology, anthropology, statistics, zoology, theology"),
    gifts=_items(
        "a telescope, a silk tie, a knitting kit, a hammock, a fountain pen, a globe, "
        "a pair of binoculars, a terrarium, a chess set, a tea set"
    ),
    places=_items(
        "in the biscuit tin, under the doormat, in the laundry basket, behind the bookcase, "
        "in the piano stool, in the red suitcase, under the stairs, in the sewing box"
    ),
    title_adjectives=_words("Brazen Hollow Amber Wandering Restless Gilded Scarlet Drowsy"),
    title_nouns=_words("Compass Labyrinth Carousel Nightingale Almanac Citadel Tapestry Glacier"),
    code_words=_words("walrus juniper saffron quartz tundra pelican zircon mosaic"),
)

# --- dates, times and numbers (split by a rule, so train and eval never share a value) --------

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def is_eval_date(month: int, day: int) -> bool:
    """One date in six belongs to evaluation; the rest to training."""
    return (month * 31 + day) % 6 == 0


def random_date(rng: random.Random, pools: Pools) -> str:
    while True:
        month = rng.randrange(12)
        day = rng.randint(1, _MONTH_DAYS[month])
        if is_eval_date(month, day) == pools.eval_side:
            break
    style = rng.randrange(3)
    if style == 0:
        return f"{MONTHS[month]} {day}"
    if style == 1:
        return f"{day} {MONTHS[month]}"
    return f"the {_ordinal(day)} of {MONTHS[month]}"


def random_time(rng: random.Random) -> str:
    hour = rng.choice((8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7))
    minute = rng.choice((0, 0, 15, 30, 45))
    half = "am" if 8 <= hour <= 11 else "pm"
    return f"{hour}:{minute:02d} {half}" if minute else f"{hour} {half}"


def is_eval_number(digits: str) -> bool:
    """One number in five belongs to evaluation."""
    return int(digits) % 5 == 0


def random_number(rng: random.Random, pools: Pools, width: int) -> str:
    while True:
        digits = str(rng.randrange(10 ** (width - 1), 10**width))
        if is_eval_number(digits) == pools.eval_side:
            return digits


def invented_name(rng: random.Random, pools: Pools) -> str:
    """A made-up name such as 'Velorin' (training only), so names are copied, not memorised."""
    name = "".join(rng.choice(pools.syllables) for _ in range(rng.randint(2, 3)))
    return name.capitalize()


# --- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """One thing the user can tell: templates hold `{v}`, filled with `value`.

    tell: what the user says; note: how a recalled snippet may read; ask: the user's question;
    state: a second-person clause for replies ("your sister is called {v}"); topic: what is
    unknown when it is missing ("your sister's name").
    """

    kind: str
    key: str
    value: str
    tell: tuple[str, ...]
    note: tuple[str, ...]
    ask: tuple[str, ...]
    state: tuple[str, ...]
    topic: str

    def fill(self, template: str) -> str:
        return template.replace("{v}", self.value)


RELATIVES = (
    "sister", "brother", "mum", "dad", "mother", "father", "best friend", "partner", "wife",
    "husband", "girlfriend", "boyfriend", "boss", "neighbour", "son", "daughter", "cousin",
    "grandmother", "grandfather", "grandma", "grandpa", "roommate", "flatmate", "teacher",
    "doctor", "dentist", "aunt", "uncle", "niece", "nephew", "colleague", "coach", "landlord",
    "manager", "godmother", "stepdad", "stepmum", "oldest friend", "piano teacher", "mentor",
)  # fmt: skip
PETS = (
    "dog", "cat", "puppy", "kitten", "rabbit", "parrot", "hamster", "horse", "tortoise",
    "goldfish", "guinea pig", "budgie", "lizard", "ferret", "pony",
)  # fmt: skip
FAVOURITES = ("food", "drink", "colour", "sport", "fruit", "animal", "book", "film", "song", "board game")
APPOINTMENTS = (
    "dentist", "doctor's", "hair", "vet", "eye test", "physio", "job interview", "car service",
    "parents' evening", "passport", "bank",
)  # fmt: skip
NUMBERS = (
    ("locker number", 3), ("room number", 3), ("door code", 4), ("bike lock code", 4),
    ("flat number", 2), ("parking space", 3), ("seat number", 2), ("gate number", 2),
    ("employee number", 6), ("membership number", 7), ("table number", 2), ("bus number", 3),
    ("PIN for the garage", 4),
)  # fmt: skip
ITEMS = ("keys", "passport", "glasses", "wallet", "phone charger", "umbrella", "spare key", "headphones", "notebook")
WHENS = (
    "on Saturday", "on Sunday", "this weekend", "next weekend", "on Friday evening", "tomorrow",
    "on Monday", "on Tuesday", "on Wednesday", "on Thursday", "tonight", "next Friday",
)  # fmt: skip


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _pick_fav_value(rng: random.Random, pools: Pools, what: str) -> str:
    if what in ("book", "film", "song"):
        return f"The {rng.choice(pools.title_adjectives)} {rng.choice(pools.title_nouns)}"
    if what == "board game":
        return f"{rng.choice(pools.title_adjectives)} {rng.choice(pools.title_nouns)}s"
    return rng.choice(getattr(pools, {"food": "foods", "drink": "drinks", "colour": "colours",
                                      "sport": "sports", "fruit": "fruits", "animal": "animals"}[what]))  # fmt: skip


def _person_name(rng: random.Random, pools: Pools) -> str:
    if pools.syllables and rng.random() < 0.25:
        name = invented_name(rng, pools)
        if name.lower() not in _eval_values():
            return name
    return rng.choice(pools.names)


def _eval_values() -> frozenset[str]:
    global _EVAL_VALUES
    if _EVAL_VALUES is None:
        _EVAL_VALUES = frozenset(v.lower() for values in EVAL.lists().values() for v in values)
    return _EVAL_VALUES


_EVAL_VALUES: frozenset[str] | None = None


def _date_maybe_time(rng: random.Random, pools: Pools, slots: dict[str, str]) -> str:
    day = random_date(rng, pools)
    return f"{day} at {random_time(rng)}" if rng.random() < 0.6 else day


def _pet_or_person(rng: random.Random, pools: Pools, slots: dict[str, str]) -> str:
    return rng.choice(pools.pet_names) if rng.random() < 0.7 else _person_name(rng, pools)


def _wifi_password(rng: random.Random, pools: Pools, slots: dict[str, str]) -> str:
    return f"{rng.choice(pools.code_words)}-{rng.choice(pools.code_words)}-{random_number(rng, pools, 2)}"


_NUMBER_WIDTHS = dict(NUMBERS)

# What a row's `draws` can name. A subject is one word or phrase from a fixed list; `v:` draws
# the value: from the pool of that name (`v:cities`), or by one of `_VALUES` (`v:person`).
_SUBJECTS: dict[str, tuple[str, ...]] = {
    "r": RELATIVES, "pet": PETS, "what": FAVOURITES, "fav": ("favourite", "favorite"), "when": WHENS,
    "appt": APPOINTMENTS, "thing": tuple(_NUMBER_WIDTHS), "item": ITEMS,
}  # fmt: skip
_VALUES = {
    "person": lambda rng, pools, slots: _person_name(rng, pools),
    "pet": _pet_or_person,
    "date": lambda rng, pools, slots: random_date(rng, pools),
    "date_time": _date_maybe_time,
    "digits": lambda rng, pools, slots: random_number(rng, pools, _NUMBER_WIDTHS[slots["thing"]]),
    "password": _wifi_password,
    "favourite": lambda rng, pools, slots: _pick_fav_value(rng, pools, slots["what"]),
}
# Subjects the verb agrees with as plurals: the favourite fruit and animal values are plurals
# ("figs are my favourite fruit"), and so are these items.
_PLURALS = frozenset({"fruit", "animal", "keys", "glasses", "headphones"})


def _grammar(slots: dict[str, str]) -> dict[str, str]:
    """Slots that follow from the drawn ones, with no randomness: words that agree with them."""
    value, when = slots["v"], slots.get("when", "")
    return {
        "on": "" if value.startswith("the ") else "on ",  # "on May 3" but "the 3rd of May"
        "a_v": ("an " if value[:1] in "aeiou" else "a ") + "{v}",  # "an engineer" (the value stays a slot)
        "a_appt": _a(slots["appt"]) if "appt" in slots else "",
        "be": "are" if slots.get("what", slots.get("item")) in _PLURALS else "is",
        "When": when[:1].upper() + when[1:],
        "day": when.replace("on ", ""),
    }


@dataclass(frozen=True)
class FactRow:
    """One kind of fact as data: its templates, with `{slots}` filled by `make_fact`.

    `weight` is how often the kind is drawn; `draws` names its slots in the order they are drawn
    (`_SUBJECTS`, `v:` for the value, `whose:p`), an order the seeds depend on. `{v}` stays in the
    templates until `Fact.fill`; other slots may also come from `_grammar`. A kind told of the user
    or of someone else ("my birthday", "my sister's birthday") has two rows, the user's first:
    `whose:p` keeps the first with probability p, else takes the second (weight 0, no draws of its
    own) with a relative drawn for `{r}`.
    """

    kind: str
    weight: int
    draws: str
    key: str
    tell: tuple[str, ...]
    note: tuple[str, ...]
    ask: tuple[str, ...]
    state: tuple[str, ...]
    topic: str
    fact_kind: str = ""  # the Fact's kind where it is not `kind` (a relative's job)


FACTS = (
    FactRow(
        "own_name", 4, "v:person", "name:self",
        tell=("My name is {v}.", "I'm {v}, by the way.", "You can call me {v}.", "Hi, I'm {v}!", "my name's {v}"),
        note=("My name is {v}.", "The user's name is {v}.", "I'm {v}, by the way.", "user name: {v}", "call me {v}"),
        ask=("What's my name?", "Do you remember my name?", "What is my name?", "Who am I?", "what's my name again?"),
        state=("your name is {v}", "you're {v}"),
        topic="your name",
    ),
    FactRow(
        "relative_name", 10, "r v:person", "name:{r}",
        tell=("My {r} is called {v}.", "My {r}'s name is {v}.", "{v} is my {r}.",
              "I have a {r} named {v}.", "Oh, by the way, my {r} is {v}.", "my {r} is {v}"),
        note=("My {r} is called {v}.", "my {r}'s name is {v}", "The user's {r} is named {v}.",
              "{v} is my {r}.", "User's {r}: {v}", "I have a {r} named {v}."),
        ask=("What's my {r}'s name?", "What is my {r} called?", "Do you remember my {r}'s name?",
             "Who is my {r}?", "what's my {r}'s name again?", "Remind me, what's my {r} called?"),
        state=("your {r} is called {v}", "your {r}'s name is {v}", "your {r} is {v}"),
        topic="your {r}'s name",
    ),
    FactRow(
        "pet_name", 8, "pet v:pet", "pet:{pet}",
        tell=("My {pet} is called {v}.", "I have a {pet} named {v}.", "Our {pet}'s name is {v}.",
              "We got a {pet} last month and called it {v}.", "{v} is the name of my {pet}."),
        note=("My {pet} is called {v}.", "The user has a {pet} named {v}.", "our {pet}'s name is {v}",
              "User's {pet}: {v}", "We got a {pet} and called it {v}."),
        ask=("What's my {pet}'s name?", "What is my {pet} called?", "Do you remember what my {pet} is called?",
             "what did we call our {pet}?", "Remind me of my {pet}'s name?"),
        state=("your {pet} is called {v}", "your {pet}'s name is {v}"),
        topic="your {pet}'s name",
    ),
    FactRow(
        "birthday", 6, "v:date whose:0.35", "birthday:self",
        tell=("My birthday is {on}{v}.", "I was born on {v}.", "It's my birthday {on}{v}!"),
        note=("My birthday is {on}{v}.", "The user's birthday: {v}.", "I was born on {v}."),
        ask=("When is my birthday?", "Do you remember when my birthday is?", "when's my birthday?"),
        state=("your birthday is {on}{v}", "you were born on {v}"),
        topic="when your birthday is",
    ),
    FactRow(
        "birthday", 0, "", "birthday:{r}",
        tell=("My {r}'s birthday is {on}{v}.", "My {r} was born on {v}.",
              "Don't let me forget: my {r}'s birthday is {on}{v}."),
        note=("My {r}'s birthday is {on}{v}.", "The user's {r} has a birthday {on}{v}.", "{r}'s birthday: {v}"),
        ask=("When is my {r}'s birthday?", "When's my {r}'s birthday again?",
             "Do you remember when my {r}'s birthday is?", "What date is my {r}'s birthday?"),
        state=("your {r}'s birthday is {on}{v}", "your {r} was born on {v}"),
        topic="when your {r}'s birthday is",
    ),
    FactRow(
        "home_city", 4, "v:cities", "city:home",
        tell=("I live in {v}.", "I'm based in {v}.", "I moved to {v} last year.", "Home for me is {v}."),
        note=("I live in {v}.", "The user lives in {v}.", "I moved to {v} last year.", "home city: {v}"),
        ask=("Where do I live?", "Which city do I live in?", "Do you remember where I live?", "where am I living now?"),
        state=("you live in {v}",),
        topic="where you live",
    ),
    FactRow(
        "hometown", 3, "v:cities", "city:origin",
        tell=("I grew up in {v}.", "I'm originally from {v}.", "I was born in {v}."),
        note=("I grew up in {v}.", "The user is originally from {v}.", "I was born in {v}."),
        ask=("Where did I grow up?", "Where am I originally from?", "Which city was I born in?", "where am I from?"),
        state=("you grew up in {v}", "you're originally from {v}"),
        topic="where you grew up",
    ),
    FactRow(
        "relative_city", 4, "r v:cities", "city:{r}",
        tell=("My {r} lives in {v}.", "My {r} just moved to {v}.", "My {r} is living in {v} now."),
        note=("My {r} lives in {v}.", "The user's {r} lives in {v}.", "my {r} just moved to {v}"),
        ask=("Where does my {r} live?", "Which city is my {r} in?", "Where did my {r} move to?"),
        state=("your {r} lives in {v}",),
        topic="where your {r} lives",
    ),
    FactRow(
        "job", 5, "v:jobs whose:0.6", "job:self",
        tell=("I work as {a_v}.", "I'm {a_v}.", "I've been working as {a_v} for five years."),
        note=("I work as {a_v}.", "The user works as {a_v}.", "job: {v}", "I'm {a_v}."),
        ask=("What do I do for a living?", "What's my job?", "Do you remember what I do for work?", "what do I work as?"),
        state=("you work as {a_v}", "you're {a_v}"),
        topic="what you do for a living",
    ),
    FactRow(
        "job", 0, "", "job:{r}",
        tell=("My {r} is {a_v}.", "My {r} works as {a_v}."),
        note=("My {r} is {a_v}.", "The user's {r} works as {a_v}.", "{r}'s job: {v}"),
        ask=("What does my {r} do?", "What's my {r}'s job?", "What does my {r} do for a living?"),
        state=("your {r} is {a_v}", "your {r} works as {a_v}"),
        topic="what your {r} does for a living",
        fact_kind="relative_job",
    ),
    FactRow(
        "favourite", 9, "what v:favourite fav", "fav:{what}",
        tell=("My {fav} {what} is {v}.", "{v} {be} my {fav} {what}.", "I absolutely love {v}, it's my {fav} {what}.",
              "If you ever wonder, my {fav} {what} is {v}."),
        note=("My {fav} {what} is {v}.", "The user's favourite {what}: {v}.", "{v} {be} my {fav} {what}.",
              "favourite {what}: {v}"),
        ask=("What's my {fav} {what}?", "Do you remember my {fav} {what}?", "What is my {fav} {what}?",
             "which {what} do I like best?"),
        state=("your favourite {what} is {v}",),
        topic="what your favourite {what} is",
    ),
    FactRow(
        "dislike", 2, "v:foods", "dislike:food",
        tell=("I can't stand {v}.", "I really don't like {v}.", "Please never suggest {v}, I hate it."),
        note=("I can't stand {v}.", "The user dislikes {v}.", "I really don't like {v}."),
        ask=("Which food do I hate?", "What food don't I like?", "What's the food I can't stand?"),
        state=("you can't stand {v}", "you don't like {v}"),
        topic="which food you dislike",
    ),
    FactRow(
        "allergy", 2, "v:allergies", "allergy",
        tell=("I'm allergic to {v}.", "Just so you know, I have an allergy to {v}.", "I can't be near {v}, I'm allergic."),
        note=("I'm allergic to {v}.", "The user is allergic to {v}.", "allergy: {v}"),
        ask=("What am I allergic to?", "Do you remember my allergy?", "What's my allergy?"),
        state=("you're allergic to {v}",),
        topic="what you're allergic to",
    ),
    FactRow(
        "plan", 6, "when v:activities", "plan:{when}",
        tell=("I'm going to {v} {when}.", "{When} I'm planning to {v}.", "My plan for {day} is to {v}.",
              "I want to {v} {when}."),
        note=("I'm going to {v} {when}.", "The user plans to {v} {when}.", "plan {when}: {v}", "I want to {v} {when}."),
        ask=("What am I doing {when}?", "What are my plans {when}?", "What did I say I'd do {when}?",
             "Remind me what I planned {when}?"),
        state=("you're going to {v} {when}", "you're planning to {v} {when}", "you wanted to {v} {when}"),
        topic="what you're doing {when}",
    ),
    FactRow(
        "appointment", 5, "appt v:date_time", "appt:{appt}",
        tell=("I have {a_appt} appointment {on}{v}.", "My {appt} appointment is {on}{v}.",
              "I booked the {appt} appointment for {v}."),
        note=("I have {a_appt} appointment {on}{v}.", "The user's {appt} appointment is {on}{v}.",
              "{appt} appointment: {v}"),
        ask=("When is my {appt} appointment?", "When's the {appt} appointment?",
             "Do you remember when my {appt} appointment is?"),
        state=("your {appt} appointment is {on}{v}",),
        topic="when your {appt} appointment is",
    ),
    FactRow(
        "number", 5, "thing v:digits", "number:{thing}",
        tell=("My {thing} is {v}.", "Can you remember this: my {thing} is {v}.", "The {thing} is {v}."),
        note=("My {thing} is {v}.", "The user's {thing} is {v}.", "{thing}: {v}"),
        ask=("What's my {thing}?", "What was my {thing} again?", "Do you remember my {thing}?"),
        state=("your {thing} is {v}",),
        topic="your {thing}",
    ),
    FactRow(
        "password", 2, "v:password", "wifi",
        tell=("The wifi password is {v}.", "Our wifi password is {v}.", "Remember the wifi password for me: {v}."),
        note=("The wifi password is {v}.", "wifi password: {v}", "Our wifi password is {v}."),
        ask=("What's the wifi password?", "What was our wifi password?", "Do you remember the wifi password?"),
        state=("the wifi password is {v}",),
        topic="the wifi password",
    ),
    FactRow(
        "language", 2, "v:languages", "language",
        tell=("I'm learning {v}.", "I've started taking {v} lessons.", "I'm trying to learn {v} this year."),
        note=("I'm learning {v}.", "The user is learning {v}.", "I've started taking {v} lessons."),
        ask=("What language am I learning?", "Which language am I studying?", "Do you remember what language I'm learning?"),
        state=("you're learning {v}",),
        topic="which language you're learning",
    ),
    FactRow(
        "instrument", 2, "v:instruments", "instrument",
        tell=("I play the {v}.", "I've played the {v} since I was a kid.", "I'm learning to play the {v}."),
        note=("I play the {v}.", "The user plays the {v}.", "instrument: {v}"),
        ask=("What instrument do I play?", "Which instrument do I play?", "Do you remember what I play?"),
        state=("you play the {v}",),
        topic="which instrument you play",
    ),
    FactRow(
        "studied", 2, "v:subjects", "studied",
        tell=("I studied {v} at university.", "My degree is in {v}.", "I did {v} at uni."),
        note=("I studied {v} at university.", "The user studied {v}.", "My degree is in {v}."),
        ask=("What did I study?", "What's my degree in?", "What did I study at university?"),
        state=("you studied {v}", "your degree is in {v}"),
        topic="what you studied",
    ),
    FactRow(
        "gift", 3, "r v:gifts", "gift:{r}",
        tell=("I want to get my {r} {v} as a present.", "I'm thinking of buying {v} for my {r}.",
              "Gift idea for my {r}: {v}."),
        note=("I want to get my {r} {v} as a present.", "gift idea for {r}: {v}",
              "The user wants to buy {v} for their {r}."),
        ask=("What did I want to get my {r}?", "What was my gift idea for my {r}?",
             "What present was I going to buy my {r}?"),
        state=("you wanted to get your {r} {v}",),
        topic="what you wanted to get your {r}",
    ),
    FactRow(
        "left_item", 4, "item v:places", "item:{item}",
        tell=("I put my {item} {v}.", "My {item} {be} {v}, in case I forget.", "I left my {item} {v}."),
        note=("I put my {item} {v}.", "My {item} {be} {v}.", "{item}: {v}"),
        ask=("Where did I put my {item}?", "Where {be} my {item}?", "Do you remember where I left my {item}?"),
        state=("you put your {item} {v}", "your {item} {be} {v}"),
        topic="where your {item} {be}",
    ),
)  # fmt: skip
_ROWS = {kind: [row for row in FACTS if row.kind == kind] for kind in dict.fromkeys(row.kind for row in FACTS)}
FACT_KINDS = tuple(_ROWS)
FACT_WEIGHTS = tuple(rows[0].weight for rows in _ROWS.values())


def make_fact(rng: random.Random, pools: Pools, kind: str | None = None) -> Fact:
    """A random fact of `kind` (or of a random kind), its values drawn from `pools`: the kind's row
    of `FACTS` with its slots drawn in order and filled in."""
    kind = kind or rng.choices(FACT_KINDS, weights=FACT_WEIGHTS)[0]
    rows = _ROWS[kind]
    row, slots = rows[0], {}
    for draw in row.draws.split():
        name, _, arg = draw.partition(":")
        if name == "v":
            slots["v"] = _VALUES[arg](rng, pools, slots) if arg in _VALUES else rng.choice(getattr(pools, arg))
        elif name == "whose":
            if rng.random() >= float(arg):  # someone else's: the kind's second row
                row, slots["r"] = rows[1], rng.choice(RELATIVES)
        else:
            slots[name] = rng.choice(_SUBJECTS[name])
    fill = {**slots, **_grammar(slots), "v": "{v}"}

    def filled(templates: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(template.format(**fill) for template in templates)

    return Fact(
        row.fact_kind or kind, row.key.format(**fill), slots["v"],
        filled(row.tell), filled(row.note), filled(row.ask), filled(row.state), row.topic.format(**fill),
    )  # fmt: skip


# Past user messages with no fact in them: distractor snippets.
FILLER_NOTES = (
    "Work was really busy today.", "I had pasta for dinner.", "It's been raining all week here.",
    "I watched a documentary about whales last night.", "I'm a bit tired this morning.",
    "We went for a long walk on Sunday.", "I finally finished that book.", "The train was late again.",
    "I'm thinking about learning to cook more.", "My back hurts a little today.",
    "I cleaned the whole flat yesterday.", "I've been sleeping badly lately.",
    "The neighbours were noisy last night.", "I bought new running shoes.", "I love autumn weather.",
    "I need to call the bank tomorrow.", "I'm trying to drink more water.", "The cat knocked over a plant.",
    "I started a new puzzle.", "We had friends over for dinner.", "I'm saving up for a holiday.",
    "My phone battery keeps dying.", "I've been listening to a lot of jazz.", "I forgot my umbrella today.",
    "Traffic was terrible this morning.", "I tried a new recipe and it worked!",
)  # fmt: skip


def make_persona(rng: random.Random, pools: Pools, n: int) -> list[Fact]:
    """`n` facts about one imagined user, each about a different thing (distinct keys)."""
    facts: dict[str, Fact] = {}
    tries = 0
    while len(facts) < n and tries < n * 20:
        tries += 1
        fact = make_fact(rng, pools)
        if fact.key not in facts and fact.value not in {f.value for f in facts.values()}:
            facts[fact.key] = fact
    return list(facts.values())


# --- the assistant's manner -------------------------------------------------------------------

ACKS = (
    "Got it! I'll remember that {s}.", "Thanks for telling me. I'll remember that {s}.",
    "Noted: {s}.", "Lovely! So {s}. I'll keep that in mind.", "Okay, I've got it: {s}.",
    "Good to know that {s}. I'll remember.", "Thanks! I'll remember that {s}.",
    "Great, I'll keep that in mind: {s}.", "I'll remember that {s}.",
)  # fmt: skip
ANSWERS = (
    "{S}.", "{S}.", "You told me {s}.", "From what you told me, {s}.", "{S}, as far as I remember.",
    "I remember: {s}.", "{S}, if I remember correctly.", "You mentioned that {s}.",
)  # fmt: skip
ANSWER_TAILS = ("", "", "", "", " Anything else you'd like to know?", " Is there anything else?", " Hope that helps!")
UNKNOWN = (
    "I don't know {t}. You haven't told me yet.", "You haven't told me {t}.",
    "I'm sorry, I don't remember {t}. I don't think you've mentioned it.",
    "I don't have that in my memory: you haven't told me {t}. Would you like to tell me?",
    "I'm not sure. I don't think you've told me {t}.",
    "I don't know {t}, sorry. If you tell me, I'll remember it.",
    "Hmm, I don't have that. You haven't told me {t} yet.",
)  # fmt: skip
ASK_PREFIXES = ("", "", "", "", "Hey, ", "Quick question: ", "Can you remind me? ", "Hi! ", "Sorry, ", "Um, ")
TELL_PREFIXES = ("", "", "", "By the way, ", "Oh, ", "Something to remember: ", "Hey! ", "Fun fact: ")

# (user variants, assistant variants): short general exchanges.
EXCHANGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "greeting": (
        ("hi", "hello", "hey", "Hi there!", "Hello!", "good morning", "Good evening!", "hey, how's it going?", "hiya", "morning!"),
        ("Hello! How can I help you today?", "Hi! What's on your mind?", "Hey! How are you doing?",
         "Hello! It's good to hear from you.", "Hi there! What would you like to talk about?",
         "Good to see you! How's your day going?"),
    ),
    "how_are_you": (
        ("How are you?", "how are you doing?", "How's it going?", "Are you doing okay today?", "how are things?"),
        ("I'm doing well, thanks for asking! How about you?", "All good here. How are you?",
         "I'm fine, thank you. How has your day been?", "Pretty good! What about you?"),
    ),
    "thanks": (
        ("thanks", "Thank you!", "thanks a lot", "That's helpful, thanks.", "cheers", "thank you so much"),
        ("You're welcome!", "Happy to help.", "Any time!", "No problem at all.", "Glad I could help!"),
    ),
    "bye": (
        ("bye", "Goodbye!", "see you later", "I have to go now.", "good night", "talk to you tomorrow"),
        ("Goodbye! Talk to you soon.", "See you later!", "Bye! Take care.", "Good night! Sleep well.",
         "Take care, and come back any time."),
    ),
    "capabilities": (
        ("What can you do?", "What are you able to help with?", "what do you do?", "How can you help me?",
         "What are you good at?"),
        ("I can chat with you and remember what you tell me, like names, birthdays, plans and things you like, "
         "so you can ask me about them later. I run entirely on this computer, offline.",
         "I'm a small assistant that lives on your computer. We can talk, and I'll remember the things you tell me, "
         "such as people's names, dates and your plans.",
         "I can keep you company in conversation and remember the details you share with me. "
         "I can't go online, but everything stays private on this machine."),
    ),
    "identity": (
        ("Who are you?", "What are you?", "Are you a person?", "are you a robot?", "Tell me about yourself."),
        ("I'm your personal assistant: a small language model running offline on your computer. "
         "I remember what you tell me, and nothing leaves this machine.",
         "I'm not a person. I'm a small assistant program that runs on your computer and learns from our conversations.",
         "I'm a private assistant that lives in your terminal. I chat, and I remember what you tell me."),
    ),
    "privacy": (
        ("Do you send my data anywhere?", "Is what I tell you private?", "Who can read our chats?",
         "Do you upload my messages?"),
        ("No. I run offline, and everything you tell me stays on this computer, encrypted.",
         "Your messages stay on this machine. I don't connect to the internet, and what I keep is encrypted.",
         "It's private: nothing is sent anywhere, and the memory is stored encrypted on your computer."),
    ),
    "weather": (
        ("What's the weather like today?", "Will it rain tomorrow?", "What's the temperature outside?"),
        ("I can't check the weather, sorry. I'm an offline assistant with no internet access. "
         "A weather app or a look out of the window will tell you.",
         "I don't have access to the internet, so I can't look up the weather. I can chat with you, "
         "though, and remember things you tell me."),
    ),
    "web": (
        ("Can you search the web for me?", "Look something up online for me.", "Can you google that?",
         "What's the latest news?", "Can you check the football scores?"),
        ("I'm sorry, I can't browse the web. I run offline on your computer. I can chat with you and "
         "remember what you tell me, though.",
         "I can't go online, so I can't look that up. Is there something else I can help with?",
         "I don't have internet access, so I can't check the news or look things up. I'm an offline assistant."),
    ),
    "alarm": (
        ("Set an alarm for 7 am.", "Can you set a timer for ten minutes?", "Remind me at 5 pm to call mum.",
         "Wake me up tomorrow at six."),
        ("I can't set alarms or timers, sorry. I'm an offline chat assistant. If you tell me about your plans, "
         "though, I'll remember them for when you ask.",
         "I'm not able to set alarms or send reminders. I can remember things you tell me, so you can ask me "
         "about them later."),
    ),
    "actions": (
        ("Send an email to my boss.", "Call my sister.", "Order a pizza for me.", "Play some music.",
         "Turn off the lights.", "Book me a flight to Rome.", "Text my friend that I'm late."),
        ("I'm sorry, I can't do that. I'm an offline assistant: I can chat with you and remember what you "
         "tell me, but I can't send messages, make calls or control other apps.",
         "That's not something I can do. I can't reach the internet or other devices, but I'm happy to talk, "
         "and I'll remember anything you tell me.",
         "I can't do that from here, sorry. I only chat and remember things you share with me."),
    ),
    "feeling_down": (
        ("I had a rough day.", "I'm feeling a bit down.", "I'm really stressed about work.", "I can't sleep.",
         "I'm tired of everything today."),
        ("I'm sorry to hear that. Do you want to talk about it?", "That sounds hard. What happened?",
         "I'm sorry. Sometimes it helps to talk it through. I'm here if you want to.",
         "That sounds exhausting. Is there anything that usually helps you relax?"),
    ),
    "feeling_good": (
        ("I had a great day!", "I got the job!", "I'm in a really good mood today.", "Guess what, I passed my exam!"),
        ("That's wonderful! Tell me more.", "Congratulations! You must be really happy.",
         "That's great news! What made it so good?", "I'm so glad to hear that!"),
    ),
    "joke": (
        ("Tell me a joke.", "Say something funny.", "Do you know any jokes?"),
        ("Why don't scientists trust atoms? Because they make up everything.",
         "I told my computer I needed a break, and it said: no problem, I'll go to sleep.",
         "What do you call a bear with no teeth? A gummy bear.",
         "Why did the bicycle fall over? It was two tired."),
    ),
    "forget": (
        ("Do you remember everything I say?", "How does your memory work?", "Can you forget things?"),
        ("I remember what you tell me, and when you ask about something I look it up in my memory. "
         "You can delete a memory or a conversation at any time, and then I forget it.",
         "I keep what you tell me on this computer, encrypted. If you delete something, I forget it completely."),
    ),
    "math": (
        ("What's 2 plus 2?", "What is 10 times 3?", "What's half of 50?"),
        ("That's 4.", "30.", "Half of 50 is 25."),
    ),
}
# the math exchange needs matched pairs
_MATH = (("What's 2 plus 2?", "That's 4."), ("What is 10 times 3?", "10 times 3 is 30."),
         ("What's half of 50?", "Half of 50 is 25."), ("What is 7 plus 5?", "7 plus 5 is 12."),
         ("How many days are in a week?", "There are seven days in a week."),
         ("How many minutes are in an hour?", "There are 60 minutes in an hour."))  # fmt: skip
_MIDDLE_INTENTS = tuple(k for k in EXCHANGES if k not in ("greeting", "bye", "thanks", "math"))


def _exchange(rng: random.Random, intent: str) -> list[tuple[str, str]]:
    if intent == "math":
        q, a = rng.choice(_MATH)
        return [("user", q), ("assistant", a)]
    users, replies = EXCHANGES[intent]
    return [("user", rng.choice(users)), ("assistant", rng.choice(replies))]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _vary_case(rng: random.Random, text: str) -> str:
    """Users type sloppily: sometimes a lower-case start, sometimes no final punctuation."""
    roll = rng.random()
    if roll < 0.12:
        return _lower_start(text)
    if roll < 0.2:
        return text.rstrip(".!?")
    return text


def _lower_start(text: str) -> str:
    first = text.split(" ", 1)[0]
    if first in ("I", "I'm", "I've", "I'd") or first[:1].isdigit() or first[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _prefixed(prefix: str, text: str, fact: Fact, template: str) -> str:
    """`prefix` + `text`, lowering the first letter after a comma unless it starts a name."""
    if prefix.endswith(", ") and not template.startswith("{v}"):
        text = _lower_start(text)
    return prefix + text


# --- dialogue builders ------------------------------------------------------------------------


@dataclass
class Generated:
    """One generated dialogue: its turns, the memory block before the last user turn, its kind."""

    messages: list[tuple[str, str]]
    memory: list[str] | None = None
    kind: str = ""
    facts: list[Fact] = field(default_factory=list)


def tell_text(rng: random.Random, fact: Fact) -> str:
    template = rng.choice(fact.tell)
    return _vary_case(rng, _prefixed(rng.choice(TELL_PREFIXES), fact.fill(template), fact, template))


def ack_text(rng: random.Random, fact: Fact) -> str:
    """The first `state` is the plain present one ("you're going to ..."), right for an acknowledgement."""
    return rng.choice(ACKS).replace("{s}", fact.fill(fact.state[0]))


def ask_text(rng: random.Random, fact: Fact) -> str:
    template = rng.choice(fact.ask)
    return _vary_case(rng, _prefixed(rng.choice(ASK_PREFIXES), template, fact, template))


def answer_text(rng: random.Random, fact: Fact) -> str:
    state = fact.fill(rng.choice(fact.state))
    text = rng.choice(ANSWERS).replace("{S}", _cap(state)).replace("{s}", state)
    return text + rng.choice(ANSWER_TAILS)


def unknown_text(rng: random.Random, fact: Fact) -> str:
    return rng.choice(UNKNOWN).replace("{t}", fact.topic)


def note_text(rng: random.Random, fact: Fact) -> str:
    return fact.fill(rng.choice(fact.note))


def _memory_block(rng: random.Random, target: Fact | None, others: list[Fact], size: int) -> list[str]:
    """`size` snippets: the target's (if any) among notes of other facts and filler, shuffled."""
    notes = [note_text(rng, f) for f in others[: max(0, size - (target is not None))]]
    while len(notes) < size - (target is not None):
        notes.append(rng.choice(FILLER_NOTES))
    if target is not None:
        notes.append(note_text(rng, target))
    rng.shuffle(notes)
    return notes


def _distractors(rng: random.Random, persona: list[Fact], target: Fact) -> list[Fact]:
    """Other facts of the persona, those of the target's kind first (hard negatives) half the time."""
    others = [f for f in persona if f.key != target.key]
    rng.shuffle(others)
    if rng.random() < 0.5:
        others.sort(key=lambda f: f.kind != target.kind)
    return others


def _small_history(rng: random.Random, persona: list[Fact], exclude: Fact) -> list[tuple[str, str]]:
    history: list[tuple[str, str]] = []
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        if rng.random() < 0.5:
            history += _exchange(rng, rng.choice(("greeting", "how_are_you", "feeling_good", "feeling_down")))
        else:
            fact = rng.choice(persona)
            if fact.key != exclude.key:
                history += [("user", tell_text(rng, fact)), ("assistant", ack_text(rng, fact))]
    return history


def recall_dialogue(rng: random.Random, pools: Pools) -> Generated:
    """Memory block holds the answer among distractors; the assistant copies it."""
    persona = make_persona(rng, pools, rng.randint(3, 8))
    target = rng.choice(persona)
    others = _distractors(rng, persona, target)
    # from one snippet up: were single-snippet blocks only ever absent cases, a block holding just
    # the answer (common when one message matches) would read as "not told"
    memory = _memory_block(rng, target, others, rng.randint(1, 6))
    messages = _small_history(rng, persona, target)
    messages += [("user", ask_text(rng, target)), ("assistant", answer_text(rng, target))]
    return Generated(messages, memory, "recall", [target])


def absent_dialogue(rng: random.Random, pools: Pools) -> Generated:
    """The block (or no block) lacks the answer; the assistant says it does not know."""
    persona = make_persona(rng, pools, rng.randint(3, 8))
    target = rng.choice(persona)
    others = _distractors(rng, persona, target)
    memory = None if rng.random() < 0.3 else _memory_block(rng, None, others, rng.randint(1, 5))
    messages = _small_history(rng, persona, target)
    messages += [("user", ask_text(rng, target)), ("assistant", unknown_text(rng, target))]
    return Generated(messages, memory, "absent", [target])


def tell_dialogue(rng: random.Random, pools: Pools) -> Generated:
    """The user tells one to three facts; the assistant acknowledges each warmly."""
    persona = make_persona(rng, pools, rng.randint(1, 5))
    told = persona[: rng.randint(1, min(3, len(persona)))]
    messages: list[tuple[str, str]] = []
    if rng.random() < 0.3:
        messages += _exchange(rng, "greeting")
    for fact in told:
        messages += [("user", tell_text(rng, fact)), ("assistant", ack_text(rng, fact))]
    if rng.random() < 0.2:
        messages += _exchange(rng, "thanks")
    rest = persona[len(told) :]
    memory = _memory_block(rng, None, rest, rng.randint(1, 4)) if rng.random() < 0.4 else None
    return Generated(messages, memory, "tell", told)


def conversation_recall_dialogue(rng: random.Random, pools: Pools) -> Generated:
    """Told earlier in the same conversation, asked later: answered from the history."""
    persona = make_persona(rng, pools, rng.randint(2, 6))
    target = persona[0]
    messages = [("user", tell_text(rng, target)), ("assistant", ack_text(rng, target))]
    for fact in persona[1 : rng.randint(1, 3)]:
        messages += [("user", tell_text(rng, fact)), ("assistant", ack_text(rng, fact))]
    if rng.random() < 0.5:
        messages += _exchange(rng, rng.choice(_MIDDLE_INTENTS))
    messages += [("user", ask_text(rng, target)), ("assistant", answer_text(rng, target))]
    rest = persona[1:]
    memory = _memory_block(rng, None, rest, rng.randint(1, 3)) if rng.random() < 0.4 else None
    return Generated(messages, memory, "conversation_recall", [target])


def general_dialogue(rng: random.Random, pools: Pools, with_memory: bool = True) -> Generated:
    """Greetings, thanks, what it can and cannot do; sometimes with an unrelated memory block."""
    messages: list[tuple[str, str]] = []
    if rng.random() < 0.6:
        messages += _exchange(rng, "greeting")
    for intent in rng.sample(_MIDDLE_INTENTS + ("math",), rng.randint(1, 3)):
        messages += _exchange(rng, intent)
    if rng.random() < 0.3:
        messages += _exchange(rng, "thanks")
    if rng.random() < 0.25:
        messages += _exchange(rng, "bye")
    memory = None
    if with_memory and rng.random() < 0.35:
        persona = make_persona(rng, pools, rng.randint(1, 4))
        memory = _memory_block(rng, None, persona, rng.randint(1, 4))
    return Generated(messages, memory, "general")


BUILDERS = (
    (recall_dialogue, 36),
    (absent_dialogue, 12),
    (tell_dialogue, 18),
    (conversation_recall_dialogue, 14),
    (general_dialogue, 20),
)


_GRAMMAR_LISTS = frozenset({"eval_side", "title_adjectives", "title_nouns", "syllables"})
_PLACE_WORDS = ("in the", "under the", "on the", "behind the", "by the", "inside the", "next to the", "on top of the")


def _place(rng: random.Random, noun) -> str:
    """A made-up hiding place ("under the green kettle"): a preposition, then `noun()`."""
    return f"{rng.choice(_PLACE_WORDS)} {noun()}"


def _remade_pools(base: Pools, makers: dict, default, size: int) -> Pools:
    """`base` with each value list (not the grammar-bearing ones) made anew: `size` calls of
    `makers[name]`, else of `default`."""
    lists = {}
    for f in fields(base):
        if f.name in _GRAMMAR_LISTS:
            lists[f.name] = getattr(base, f.name)
        else:
            make = makers.get(f.name, default)
            lists[f.name] = tuple(make() for _ in range(size))
    return Pools(**lists)


def scrambled_pools(rng: random.Random, base: Pools = TRAIN, size: int = 24) -> Pools:
    """Pools of values no model can know: invented words for names, places and single-word
    things, random phrases from the training words for the rest. A value drawn from these can
    only be answered by copying it from the memory block, not by guessing a likely one."""
    evals = _eval_values()
    common = ("foods", "drinks", "colours", "sports", "fruits", "animals", "jobs", "activities", "allergies", "gifts")
    vocab = sorted({w for name in common for v in getattr(base, name) for w in v.lower().split() if w.isalpha()} - evals)

    def word() -> str:
        while True:
            w = "".join(rng.choice(base.syllables) for _ in range(rng.randint(2, 3)))
            if w not in evals:
                return w

    def phrase() -> str:
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 3)))

    invented = {"names": lambda: word().capitalize(), "pet_names": lambda: word().capitalize(),
                "cities": lambda: word().capitalize(), "languages": lambda: word().capitalize(),
                "code_words": lambda: rng.choice(vocab), "instruments": word, "subjects": word,
                "places": lambda: _place(rng, lambda: rng.choice((word, phrase))())}
    return _remade_pools(base, invented, phrase, size)


@dataclass(frozen=True)
class WordLists:
    """A large vocabulary for `wide_pools`: capitalised (proper) and lower-case (common) words."""

    proper: tuple[str, ...]
    common: tuple[str, ...]


@lru_cache(maxsize=4)
def _without_held_out(words: WordLists) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`words` less the held-out values, once per vocabulary (not once per drill)."""
    evals = _eval_values()
    return tuple(w for w in words.proper if w.lower() not in evals), tuple(w for w in words.common if w not in evals)


def wide_pools(rng: random.Random, words: WordLists, base: Pools = TRAIN, size: int = 24) -> Pools:
    """Pools of real words drawn from a large vocabulary (`WordLists`, e.g. the corpus's own):
    capitalised words for names, places and languages, lower-case words and phrases for the rest.

    Scrambled values teach the model to copy what it has never seen; but a value that looks like
    a real word it then guesses from the short training lists instead ("Wellington" for Ohrid).
    Values from thousands of real words, each rarely seen as a value, leave copying as the only
    way for those too.
    """
    proper, common = _without_held_out(words)

    def phrase() -> str:
        return " ".join(rng.choice(common) for _ in range(rng.randint(1, 3)))

    real = {"names": lambda: rng.choice(proper), "pet_names": lambda: rng.choice(proper),
            "cities": lambda: rng.choice(proper), "languages": lambda: rng.choice(proper),
            "code_words": lambda: rng.choice(common), "instruments": lambda: rng.choice(common),
            "subjects": lambda: rng.choice(common), "places": lambda: _place(rng, phrase)}
    return _remade_pools(base, real, phrase, size)


def recall_drill(
    rng: random.Random, pools: Pools, segments: int = 4, words: WordLists | None = None, echo: bool = False
) -> list[Generated]:
    """Several memory-block questions in a row, each with a fresh block and no small talk.

    In ordinary dialogues the value to copy is a few tokens in a hundred; a drill packs one
    question per block, so the copy skill gets a dense signal (one in five is an absent case).
    Most drills draw their values from `scrambled_pools` or (given `words`) `wide_pools`, so
    copying is the only way to answer. With `echo`, a quarter of the segments are `echo_segment`s.
    """
    wide = words is not None and min(len(words.proper), len(words.common)) >= 100  # a vocabulary, not a handful
    r = rng.random()
    if wide and r < 0.55:
        pools = wide_pools(rng, words, pools)
    elif r < (0.85 if wide else 0.7):
        pools = scrambled_pools(rng, pools)
    drill = []
    for _ in range(segments):
        kind = rng.random()
        if echo and kind < 0.25:
            drill.append(echo_segment(rng, pools))
            continue
        g = (recall_dialogue if kind < (0.85 if echo else 0.8) else absent_dialogue)(rng, pools)
        drill.append(Generated(g.messages[-2:], g.memory, "drill:" + g.kind, g.facts))
    return drill


ECHO_ASKS = ("Can you repeat this back to me: {}.", "Please say these back exactly: {}.", "Repeat after me: {}.",
             "Copy this down exactly: {}.", "Say this back so I know you got it: {}.", "Read this back to me: {}.")
ECHO_REPLIES = ("{}.", "Sure: {}.", "Here you go: {}.", "Of course: {}.", "Got it: {}.")


def echo_segment(rng: random.Random, pools: Pools) -> Generated:
    """The user asks for a few values back word for word; the assistant repeats them exactly.

    Every token of the reply is a copy of one a few tokens back, so these train the copying
    (the attention blocks' induction) that recall depends on: held-out values were mostly
    found but then miscopied after their first piece ("Plovia" for Plovdiv).
    """
    facts = make_persona(rng, pools, rng.randint(2, 4))
    values = [f.value for f in facts]
    said = ", ".join(values[:-1]) + " and " + values[-1]
    return Generated([("user", rng.choice(ECHO_ASKS).format(said)), ("assistant", rng.choice(ECHO_REPLIES).format(said))],
                     None, "drill:echo", facts)


def generate_drills(
    seed: int, count: int | None = None, pools: Pools = TRAIN, words: WordLists | None = None, echo: bool = False
) -> Iterator[list[Generated]]:
    """Endless (or `count`) recall drills, reproducible from `seed` (and `words`, `echo`)."""
    rng = random.Random(f"drills-{seed}")
    made = 0
    while count is None or made < count:
        yield recall_drill(rng, pools, rng.randint(3, 6), words, echo)
        made += 1


def generate_dialogues(seed: int, count: int | None = None, pools: Pools = TRAIN) -> Iterator[Generated]:
    """Endless (or `count`) training dialogues, reproducible from `seed`."""
    rng = random.Random(f"dialogues-{seed}")
    builders, weights = zip(*BUILDERS)
    made = 0
    while count is None or made < count:
        yield rng.choices(builders, weights=weights)[0](rng, pools)
        made += 1


# --- held-out evaluation cases ----------------------------------------------------------------


def memory_eval_cases(seed: int, present: int = 200, absent: int = 50) -> list[dict]:
    """Held-out cases from the `EVAL` pools: {memory, history, question, answer, kind}.

    `answer` is the value the reply must contain, or None when the block lacks it (the reply
    should say it does not know).
    """
    rng = random.Random(f"memory-eval-{seed}")
    cases = []
    kinds = list(FACT_KINDS)
    for i in range(present + absent):
        has_answer = i < present
        kind = kinds[i % len(kinds)]
        target = make_fact(rng, EVAL, kind)
        persona = [target] + [f for f in make_persona(rng, EVAL, rng.randint(3, 7)) if f.key != target.key]
        others = _distractors(rng, persona, target)
        size = rng.randint(2, 6)
        memory = _memory_block(rng, target if has_answer else None, others, size)
        history = _small_history(rng, persona, target) if rng.random() < 0.3 else []
        cases.append(
            {
                "memory": memory,
                "history": [[role, text] for role, text in history],
                "question": rng.choice(target.ask),
                "answer": target.value if has_answer else None,
                "kind": kind if has_answer else f"absent:{kind}",
            }
        )
    rng.shuffle(cases)
    return cases
