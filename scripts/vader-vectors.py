#!/usr/bin/env python3
"""Writes VADER reference scores for the NLP parity test.

Sentences are composed from parts that exercise each of VADER's rules
(boosters and dampeners, negations and contractions, ALL CAPS, "but",
exclamation and question marks, emoji and emoticons, idioms, "least"),
then scored by the pinned Python package vaderSentiment 3.3.2. Output: TSV
of text, neg, neu, pos, compound, one sentence a line.
"""
import itertools
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

subjects = ["The movie", "This library", "Our new release", "the service"]
adjectives = ["good", "great", "bad", "horrible", "okay", "funny", "boring", "amazing", "useless", "fine"]
modifiers = ["", "very ", "extremely ", "kind of ", "slightly ", "incredibly ", "not ", "not very ", "never ", "isn't "]
endings = [".", "!", "!!!", "?", " :)", " :(", " 😀", " 😢", " 👍", " 💔"]

sentences = []
for i, (subj, adj, mod, end) in enumerate(itertools.product(subjects, adjectives, modifiers, endings)):
    # A deterministic spread over the product (every 13th) keeps a few hundred.
    if i % 13:
        continue
    verb = "" if mod.startswith("isn't") else "is "
    s = f"{subj} {verb}{mod}{adj}{end}"
    if i % 3 == 0:
        s = s.upper()
    sentences.append(s)

sentences += [
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "The food was great but the service was HORRIBLE!!",
    "At least it isn't a horrible book.",
    "It was the least bad option.",
    "Not bad at all",
    "That was the bomb!",
    "This deal is a kiss of death.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    "I don't hate it, I just don't love it.",
    "Never have I seen such a beautiful sunset!",
    "It's not that the code is wrong, it's just slow.",
    "Wow... this is NOT what I expected???",
    "meh",
    "",
    "12345",
    "Please sort this list in Python.",
    "Why does my query return no rows?",
    "The results are somewhat disappointing, but the trend is encouraging.",
    "Absolutely wonderful, truly FANTASTIC work!!!",
    "This is the worst, most frustrating bug ever 😡",
]

out = sys.stdout
analyzer = SentimentIntensityAnalyzer()
for s in sentences:
    if "\t" in s or "\n" in s:
        continue
    r = analyzer.polarity_scores(s)
    out.write(f"{s}\t{r['neg']}\t{r['neu']}\t{r['pos']}\t{r['compound']}\n")
