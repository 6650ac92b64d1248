"""Prints the Swift Testing tests a log shows as started but never passed or failed."""
import re
import sys

started, ended = [], set()
with open(sys.argv[1], encoding="utf-8", errors="replace") as log:
    for line in log:
        match = re.search(r'Test (".*?"|\S+\(\)) (started|passed|failed|skipped)', line)
        if not match:
            continue
        name, event = match.groups()
        if event == "started":
            started.append(name)
        else:
            ended.add(name)
for name in started:
    if name not in ended:
        print("  " + name)
