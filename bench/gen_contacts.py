#!/usr/bin/env python3
"""Writes a contacts CSV for the import benchmark: N rows, about 3 % of them
role addresses, invalid addresses or duplicates. Deterministic.

Addresses are `person{i}@…` by default, which sort close together; with
BENCH_ADDRESSES=random their local parts are random, as in a real list that
is not sorted by address (every insert then lands elsewhere in the unique
address index, which costs databases far more)."""
import hashlib, os, random, sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
out = sys.argv[2] if len(sys.argv) > 2 else "contacts.csv"
rng = random.Random(42)
first = ["Ada", "Bob", "Carla", "Dieter", "Emma", "Farid", "Greta", "Hans", "Ines", "Jonas"]
cities = ["Berlin", "Hamburg", "München", "Köln", "Frankfurt", "Leipzig", "Wien", "Zürich"]
domains = ["example.org", "example.com", "beispiel.de", "mail.example.net", "post.example.at"]
shuffled = os.environ.get("BENCH_ADDRESSES") == "random"


def local(i):
    return hashlib.sha1(str(i).encode()).hexdigest()[:12] if shuffled else f"person{i}"


with open(out, "w", encoding="utf-8", newline="") as f:
    f.write("email,first_name,last_name,city,customer_since\r\n")
    for i in range(n):
        r = rng.random()
        if r < 0.01:
            email = f"info@shop{i}.example.org"          # role address
        elif r < 0.02:
            email = f"broken.address.{i}"                 # invalid
        elif r < 0.03 and i > 10:
            email = f"{local(i - 7)}@{domains[(i - 7) % 5]}"  # duplicate of an earlier row
        else:
            email = f"{local(i)}@{domains[i % 5]}"
        f.write(f"{email},{rng.choice(first)},Name{i % 997},{rng.choice(cities)},20{10 + i % 15}-0{1 + i % 9}-1{i % 10}\r\n")
print(out)
