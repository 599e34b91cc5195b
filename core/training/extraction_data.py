"""The memory detector's labelled data beyond `core.training.dialogues.FACTS`: more kinds of
statement, the non-statements, and a hand-written check set.

Every table is rows of templates. A template's `{slots}` are drawn by `core.training.extraction`
from the `TRAIN` or `EVAL` pools of `dialogues` (names, cities, jobs, foods ...) or from the small
train/eval pairs below. The held-out templates are those at index 2, 5, 8 ... of each row
(`held_out_index`), so the held-out set is made of templates training never sees, filled with
values from the other pool.
"""

from __future__ import annotations

from dataclasses import dataclass


def held_out_index(i: int) -> bool:
    """Which templates of a row belong to the held-out set (every third, from the third)."""
    return i % 3 == 2


# Pools of the extra slots, as (train, eval): disjoint, so held-out values are never trained on.
EXTRA_POOLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "company": (("Google", "Siemens", "the city council", "a small bakery", "Ikea", "Deloitte", "the hospital",
                 "a startup", "Unilever", "the BBC", "Spotify", "a law firm", "the university", "Nokia", "Tesco"),
                ("Volvo", "the Red Cross", "Maersk", "a brewery", "Lego", "the town library", "Airbus",
                 "a design agency", "the harbour office", "Ericsson")),
    "hobby": (("hiking", "baking bread", "playing chess", "gardening", "knitting", "running", "painting",
               "photography", "bouldering", "swimming in the sea", "jazz", "board games", "crosswords",
               "sci-fi novels", "cooking Thai food", "cycling", "old films", "podcasts about history"),
              ("birdwatching", "pottery", "sailing", "origami", "salsa dancing", "jigsaw puzzles",
               "folk music", "woodworking", "geocaching", "opera")),
    "diet": (("vegetarian", "vegan", "gluten-free", "lactose intolerant", "on a low-salt diet"),
             ("pescatarian", "coeliac", "teetotal", "halal")),
    "vehicle": (("train", "bus", "tram"), ("ferry", "train", "bus")),
    "activity": (("shift", "yoga class", "football practice", "gym session", "lecture", "choir practice"),
                 ("swimming lesson", "standup", "piano lesson", "school run")),
    "month": (("January", "March", "April", "June", "July", "September", "November"),
              ("February", "May", "August", "October", "December")),
    "habit": (("go running every morning", "walk the dog before work", "cycle to work", "meditate at night",
               "call my mum on Sundays", "cook every evening", "read before bed", "swim on Saturdays"),
              ("do the crossword at lunch", "take the stairs at work", "bake on Sunday mornings",
               "water the plants on Mondays")),
    "count": (("two", "three", "four"), ("two", "five")),
}  # fmt: skip


@dataclass(frozen=True)
class ExtraRow:
    """Statements of one attribute. `slot` is filled like the templates ({r} as its slot word)."""

    attribute: str
    slot: str | None
    tell: tuple[str, ...]


EXTRA_FACTS = (
    ExtraRow("employer", "employer", ("I work at {company}.", "I just started a new job at {company}.",
             "I've been at {company} for three years now.", "I work for {company}.", "These days I'm working at {company}.",
             "I got a job at {company}!")),
    ExtraRow("employer", "{r}.employer", ("My {r} works at {company}.", "My {r} just got a job at {company}.",
             "My {r} has worked for {company} for years.")),
    ExtraRow("name", "manager", ("I report to {name}.", "My new manager is {name}.", "{name} is my boss now.",
             "My boss is called {name}.", "I have a new line manager, {name}.", "{name} is my manager.")),
    ExtraRow("name", "partner", ("I'm married to {name}.", "My wife is called {name}.", "I'm engaged to {name}!",
             "My husband's name is {name}.", "{name} and I have been together for years.", "My partner is {name}.")),
    ExtraRow("age", "age", ("I'm {age}.", "I just turned {age}.", "I'm {age} years old.", "I turned {age} last week.",
             "I'm {age} years old now.", "I'll be {age} next month.")),
    ExtraRow("age", "{r}.age", ("My {r} is {age}.", "My {r} just turned {age}.", "My {r} is {age} years old.")),
    ExtraRow("schedule", "{vehicle}_time", ("My {vehicle} leaves at {time}.", "I take the {time} {vehicle} to work.",
             "I usually catch the {time} {vehicle}.", "My {vehicle} is at {time} every morning.",
             "I get the {vehicle} at {time} on weekdays.", "The {vehicle} I take leaves at {time}.")),
    ExtraRow("schedule", "{activity}_time", ("My {activity} starts at {time}.", "I have {activity} at {time} on {weekday}s.",
             "{Activity} is at {time} on {weekday}s.", "My {activity} is at {time}.",
             "My {activity} has moved to {time}.", "Every {weekday} my {activity} starts at {time}.")),
    ExtraRow("like", "pref.{hobby}", ("I love {hobby}.", "I'm really into {hobby}.", "I really enjoy {hobby}.",
             "I'm a big fan of {hobby}.", "I like {hobby} very much.", "I absolutely adore {hobby}.")),
    ExtraRow("like", "pref.{food}", ("I love {food}.", "I could eat {food} every day.", "{food} is my comfort food.")),
    ExtraRow("dislike", "pref.{hobby}", ("I hate {hobby}.", "I'm not a fan of {hobby}.", "I really dislike {hobby}.",
             "I can't stand {hobby}.", "I don't enjoy {hobby} at all.", "I don't like {hobby}.")),
    ExtraRow("diet", "diet", ("I'm {diet}.", "I've been {diet} for years.", "Just so you know, I'm {diet}.",
             "I'm {diet} these days.", "I became {diet} last year.", "I am {diet}.")),
    ExtraRow("trip", "trip.{city}", ("I'm flying to {city} in {month}.", "We're going to {city} for a week in {month}.",
             "In {month} I'm visiting my {r} in {city}.", "I'm off to {city} in {month}.",
             "We booked a trip to {city} for {month}.", "Next month I'm going to {city}.")),
    ExtraRow("home", "home", ("We live in {city}.", "I just moved to {city}.", "Our flat is in {city}.",
             "I've lived in {city} for ten years.", "I'm moving to {city} next week.", "I live in {city} now.")),
    ExtraRow("job", "job", ("I'm {a_job} by trade.", "I work as {a_job} at the hospital.", "My job is {a_job}.",
             "I've just qualified as {a_job}.", "I'm training to be {a_job}.", "For work I'm {a_job}.")),
    ExtraRow("name", "name", ("My name's {name}.", "I'm {name}.", "Call me {name}, everyone does.",
             "People call me {name}.", "{name} here.", "The name's {name}.")),
    # paraphrases of the FACTS kinds, so a kind is learned from more than its two training templates
    ExtraRow("name", "name", ("Everyone calls me {name}.", "My first name is {name}.", "Just call me {name}.",
             "I go by {name}.", "This is {name}, hello!", "{name} is my name.")),
    ExtraRow("name", "{r}", ("My {r}'s called {name}.", "I've got a {r} called {name}.", "{name}'s my {r}.",
             "The name of my {r} is {name}.", "My {r} goes by {name}.", "{name} is my {r}'s name.",
             "My {r} is named {name}.", "We call my {r} {name}.", "{name}, my {r}, is lovely.")),
    ExtraRow("pet", "{pet}", ("I've got a {pet} called {pet_name}.", "Our {pet} is {pet_name}.",
             "We named our {pet} {pet_name}.", "My {pet}'s called {pet_name}.", "{pet_name} is our {pet}.",
             "Our new {pet} is named {pet_name}.", "I have a {pet}, {pet_name}.", "My {pet} {pet_name} is two now.",
             "{pet_name} is the name of our {pet}.")),
    ExtraRow("birthday", "birthday", ("My birthday's on {date}.", "My birthday falls on {date}.",
             "{date} is my birthday.", "I celebrate my birthday on {date}.", "My date of birth is {date}.",
             "I turn a year older on {date}.")),
    ExtraRow("birthday", "{r}.birthday", ("My {r}'s birthday falls on {date}.", "My {r} celebrates their birthday on {date}.",
             "{date} is my {r}'s birthday.", "My {r}'s birthday is coming up on {date}.", "My {r} has a birthday on {date}.",
             "The birthday of my {r} is on {date}.")),
    ExtraRow("home", "home", ("I'm living in {city} now.", "I live just outside {city}.", "Home is {city} these days.",
             "I've settled in {city}.", "I rent a flat in {city}.", "My home is in {city}.")),
    ExtraRow("hometown", "hometown", ("I'm from {city}.", "I come from {city}.", "I was raised in {city}.",
             "{city} is where I grew up.", "My hometown is {city}.", "I spent my childhood in {city}.")),
    ExtraRow("home", "{r}.home", ("My {r} lives over in {city}.", "My {r} is based in {city}.", "My {r} relocated to {city}.",
             "My {r} lives near {city}.", "My {r} stays in {city} now.", "My {r}'s home is in {city}.")),
    ExtraRow("job", "{r}.job", ("My {r} is working as {a_job}.", "My {r} has been {a_job} for years.",
             "My {r} is {a_job} at the hospital.", "My {r} trained as {a_job}.", "My {r}'s job: {job}.",
             "My {r} works as {a_job} these days.")),
    ExtraRow("job", "job", ("I'm {a_job} by profession.", "My job: {job}.", "I earn my living as {a_job}.",
             "I've worked as {a_job} since college.", "By profession I'm {a_job}.", "I am {a_job}.")),
    ExtraRow("dislike", "pref.{food}", ("I really can't stand {food}.", "I hate {food}.", "I don't like {food}.",
             "I really don't enjoy {food}.", "I detest {food}.", "{food} is the worst, I can't eat it.")),
    ExtraRow("like", "pref.{food}", ("I adore {food}.", "I'm a big fan of {food}.", "I like {food} a lot.",
             "I enjoy {food} more than anything.", "I'm really into {food}.", "I love {food} so much.")),
    ExtraRow("allergy", "allergy.{allergen}", ("I have a {allergen} allergy.", "I'm really allergic to {allergen}.",
             "My doctor says I'm allergic to {allergen}.", "I get a reaction to {allergen}, I'm allergic.",
             "I'm allergic to {allergen}, so be careful.", "I've been allergic to {allergen} since childhood.")),
    ExtraRow("language", "language", ("I'm studying {language}.", "I've been learning {language} for a year.",
             "I take {language} classes.", "I'm taking a {language} course.", "I've started learning {language}.",
             "I practise {language} every day.")),
    ExtraRow("instrument", "instrument", ("I've been playing the {instrument} for years.", "I'm taking {instrument} lessons.",
             "I play {instrument} in a band.", "I play the {instrument} every evening.", "I picked up the {instrument} last year.",
             "I can play the {instrument}.")),
    ExtraRow("studied", "studied", ("I have a degree in {subject}.", "I majored in {subject}.", "I did a master's in {subject}.",
             "I read {subject} at university.", "I studied {subject}.", "My degree was in {subject}.")),
    ExtraRow("gift", "{r}.gift", ("I'd like to give my {r} {gift} for their birthday.", "Present idea for my {r}: {gift}.",
             "I'm planning to get {gift} for my {r}.", "I want to buy my {r} {gift}.", "I'll get my {r} {gift} for Christmas.",
             "I think I'll give my {r} {gift}.")),
    ExtraRow("wifi", "wifi_password", ("Wifi password: {password}.", "Our wifi code is {password}.",
             "The password for the wifi is {password}.", "The wifi key is {password}.", "Our wifi password is now {password}.",
             "The home wifi password is {password}.")),
    ExtraRow("employer", "employer", ("I'm employed by {company}.", "I work in the office at {company}.",
             "I've started working at {company}.", "My employer is {company}.", "I joined {company} last spring.",
             "I'm with {company} now.")),
    ExtraRow("other", None, ("I {habit}.", "I usually {habit}.", "Every week I {habit}.", "I try to {habit}.")),
    ExtraRow("other", None, ("I have {count} kids.", "We have {count} children.", "I've got {count} grandchildren.",
             "I have {count} brothers.", "I'm one of {count} sisters.", "I have {count} cats.")),
)  # fmt: skip


@dataclass(frozen=True)
class NegativeRow:
    """Messages that hold nothing to remember, of one kind."""

    kind: str
    texts: tuple[str, ...]


NEGATIVES = (
    NegativeRow("question", ("What's the capital of {country}?", "How do I boil an egg?", "Can you explain how tides work?",
                "What time is it?", "Is it going to rain in {city}?", "What's a good restaurant in {city}?",
                "How far is {city} from here?", "Why is the sky blue?", "What should I cook tonight?",
                "Do you know any good books?", "How many legs does a spider have?", "What does {job} mean?",
                "Which is bigger, {city} or {city2}?", "Can dogs eat {food}?", "How do you make {food}?",
                "What's the best way to learn {language}?", "Any tips for sleeping better?",
                "Should I bring an umbrella?", "What year did the war end?", "Who wrote Hamlet?")),
    NegativeRow("own_question", ("Do you know where my {r} lives?", "Did I tell you my {r}'s name?",
                "Is my {r} called {name}?", "What did I say about {food}?", "Where did I live before?",
                "What's my {r}'s job again?", "Did I mention my birthday?", "Do I have any pets?",
                "Remind me, what's my name?", "What do you know about me?", "When is my train?",
                "Where do I work?", "What did I tell you yesterday?",
                "Do you remember what I'm allergic to?", "Am I vegetarian?", "How old am I?",
                "Where was I going in {month}?")),
    NegativeRow("command", ("Remind me to {activity} {when}.", "Set a timer for ten minutes.",
                "Write a short poem about {animal}.", "Tell me a story about a dragon.", "Translate good morning into {language}.",
                "Summarise this article for me.", "Call {name}.", "Text my {r} that I'm running late.",
                "Book a table for two at {time}.", "Play some jazz.", "Add {food} to the shopping list.",
                "Give me a recipe for {food}.", "Forget what I said about my {r}.", "Delete that memory.",
                "Make it shorter.", "Explain it again, please.", "Open my calendar.", "Turn the volume up.",
                "Help me write an email to my {r}.", "List three facts about {city}.", "Please be more concise.")),
    NegativeRow("reaction", ("haha nice", "lol", "that's cool", "ok", "okay thanks", "good point", "I see",
                "really?", "no way", "sounds good", "yes please", "I agree", "not really", "maybe later",
                "that makes sense", "I don't know", "hmm", "wow", "great, thanks", "fair enough", "nice one",
                "oh I see", "I'm not sure", "yeah", "nope", "cool cool", "I guess so", "haha", "that's funny",
                "thank you!", "perfect", "never mind", "you're right", "I think so too", "oh no", "omg",
                "same here", "I'm back", "sorry, typo", "I know, right?", "interesting")),
    NegativeRow("mood", ("I'm so tired today.", "I'm bored.", "I just got home.", "I'm eating lunch right now.",
                "It's really cold today.", "I'm watching a film.", "I had a long day.", "I'm a bit hungry.",
                "I'm in a good mood today.", "I overslept this morning.", "I feel a bit sick today.",
                "I'm waiting for the bus.", "I'm so happy right now!", "Ugh, Mondays.", "I can't be bothered today.",
                "I'm stuck in traffic.", "I just had a coffee.", "It's sunny here today.", "I'm procrastinating.",
                "I need a nap.", "I'm going to bed now.", "I'm off to make dinner.", "I just finished work.")),
    NegativeRow("feeling", ("I'm feeling {feeling} today.", "I feel {feeling} right now.", "Today I'm {feeling}.",
                "I'm a bit {feeling} this morning.", "Feeling {feeling} tonight.", "I'm so {feeling} at the moment.",
                "Ugh, I'm {feeling}.", "I've been {feeling} all day.", "Honestly I'm just {feeling} today.")),
    NegativeRow("event", ("I just {event}.", "Today I {event}.", "I {event} this morning.", "Guess what, I {event}!",
                "Earlier I {event}.", "Ugh, I {event} again.", "So I {event} an hour ago.", "I {event} just now.",
                "Yesterday I {event}.")),
    NegativeRow("world", ("{city} is a beautiful city.", "Cats are funny animals.", "That film was amazing.",
                "The weather has been awful this week.", "{food} is popular in many countries.",
                "Football is on tonight.", "The news is depressing lately.", "Prices keep going up.",
                "That sounds like a great idea.", "You're really helpful.", "You got that wrong.",
                "That's not what I asked.", "The meeting ran late.", "This app is great.",
                "Water boils at 100 degrees.", "The shop closes at {time}.")),
    NegativeRow("hypothetical", ("If I won the lottery I'd buy a boat.", "I wonder what {city} is like.",
                "I might get a dog one day, who knows.", "Maybe I should learn {language}.",
                "I wish I could travel more.", "What if I moved to {city}?", "I don't know if I like {food}.",
                "I was thinking about dinner.", "I'd love to visit {city} someday.")),
)  # fmt: skip

EXTRA_NEGATIVE_POOLS = {
    "country": (("France", "Japan", "Canada", "Peru", "Kenya"), ("Norway", "Chile", "Vietnam")),
    "feeling": (("tired", "sleepy", "stressed", "grumpy", "cheerful", "anxious", "bored", "excited", "hungry", "cold",
                 "restless", "sad", "happy", "lazy"),
                ("exhausted", "nervous", "overwhelmed", "relaxed", "fed up", "hopeful", "worn out")),
    "event": (("had lunch", "got back from the shop", "finished a meeting", "missed the bus", "spilled my coffee",
               "watched the news", "burnt the toast", "went for a walk", "cleaned the kitchen", "fell asleep on the sofa",
               "forgot my umbrella", "made pancakes"),
              ("locked myself out", "dropped my phone", "ran into an old friend", "got caught in the rain",
               "lost my gloves", "broke a glass")),
}  # fmt: skip

# --- the hand-written check set ------------------------------------------------------------------
# Written by hand for this detector (not generated, not trained on; none is a template of the
# tables above or of dialogues, which a test checks): realistic messages as people type them, each with the slots its statements should get ([] for nothing to remember; None for
# a statement with no known slot).

HANDWRITTEN: tuple[tuple[str, list[str | None]], ...] = (
    ("Hi! My name is Dana and I live in Tromso. My sister Ilse is a veterinarian.", ["name", "home", "sister.job"]),
    ("I moved to Oslo last month.", ["home"]),
    ("my manager is called Priyanka now, she replaced Tom", ["manager"]),
    ("btw my train is at 7:42 tomorrow", ["train_time"]),
    ("I'm allergic to penicillin.", ["allergy.penicillin"]),
    ("We adopted a cat called Miso!", ["cat"]),
    ("I work as a physiotherapist at the local clinic.", ["job"]),
    ("My brother Kasper lives in Aarhus.", ["brother.home"]),
    ("I can't stand coriander.", ["pref.coriander"]),
    ("My favourite band is Radiohead.", ["favourite.band"]),
    ("I'm going hiking in the Alps in August.", ["plan.august"]),
    ("My dentist appointment is on Thursday at 3.", ["appointment.dentist"]),
    ("I grew up in a small town near Porto.", ["hometown"]),
    ("My daughter turns 7 on the 12th of June.", ["daughter.birthday"]),
    ("oh and my wife's name is Mette", ["partner"]),
    ("I've been vegetarian since 2015.", ["diet"]),
    ("I'm learning Japanese for a trip next year.", ["language"]),
    ("My mum works at the post office.", ["mother.employer"]),
    ("I started at Nordea in March.", ["employer"]),
    ("My birthday is the 3rd of November.", ["birthday"]),
    ("I play the cello in an amateur orchestra.", ["instrument"]),
    ("My bus leaves at 8:15 every weekday.", ["bus_time"]),
    ("I really love spicy food.", ["pref.spicy_food"]),
    ("My door code is 4471.", ["door_code"]),
    ("I'm 34.", ["age"]),
    ("Our wifi password is bluefrog88.", ["wifi_password"]),
    ("My best friend Joao is a pilot.", ["best_friend.job"]),
    ("I left my glasses on the kitchen windowsill.", ["glasses.place"]),
    ("Hey, I'm Sam. I'm a nurse and I live in Leeds.", ["name", "job", "home"]),
    ("I studied chemistry at Edinburgh.", ["studied"]),
    ("We're flying to Lisbon in May.", ["trip.lisbon"]),
    ("I have two kids and a dog named Pixel.", [None]),
    ("Which street was I on before I moved?", []),
    ("What's my sister's job?", []),
    ("hahaha brilliant", []),
    ("how's your day going?", []),
    ("Set an alarm for 6:30.", []),
    ("Can you summarise this email for me?", []),
    ("thanks, that's really helpful!", []),
    ("What's the weather in Bergen tomorrow?", []),
    ("Tell me a joke about cats.", []),
    ("okie dokie", []),
    ("I'm absolutely knackered tonight.", []),
    ("Write a haiku about autumn.", []),
    ("What did I say my manager was called?", []),
    ("Do you remember when my train leaves?", []),
    ("morning, sunshine", []),
    ("lol that's hilarious", []),
    ("Who was the first person on the moon?", []),
    ("Can you remind me to call the plumber at 5?", []),
    ("That's not right.", []),
    ("Paris is lovely in the spring.", []),
    ("I wonder if it will snow.", []),
    ("Give me three ideas for dinner.", []),
    ("hmm, let me think", []),
    ("Is Oslo bigger than Bergen?", []),
    ("Sorry, I meant Tuesday.", []),
    ("Translate 'thank you' into Norwegian.", []),
    ("what kind of things can you help with?", []),
    ("See you tomorrow!", []),
    ("How do I make sourdough?", []),
    ("Nice, that worked.", []),
)  # fmt: skip
