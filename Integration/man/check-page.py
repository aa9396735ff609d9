#!/usr/bin/env python3
"""Checks a man page against a binary's `--experimental-dump-help` JSON.

    check-page.py DUMP.json PAGE.8 AHEAD-FILE

Prints one line per problem and exits 1 if there is any:

- a subcommand with no subsection: every command path ("formnet wg up") needs a `.SS` heading
  that is exactly that path;
- a long option the binary has but the page does not mention, in the command's subsection or,
  for options every command shares, under `.SH "COMMON OPTIONS"`;
- an option whose default (as the binary reports it) is not written where it is documented;
- an option or subsection the page documents that the binary does not have, unless
  AHEAD-FILE lists it (documented ahead of the code): stale documentation fails too.

Lines of AHEAD-FILE are "COMMAND PATH" or "COMMAND PATH --option"; # starts a comment. Entries
the binary now has are printed as notes, to be removed from the file.
"""
import json
import re
import sys


def normalize(text):
    """Roff source to the words a reader sees: fonts and escapes removed, \\- as '-'."""
    text = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", text)
    text = text.replace("\\-", "-").replace("\\(aq", "'").replace("\\(em", "-").replace("\\(en", "-")
    text = text.replace("\\&", "").replace("\\~", " ").replace("\\ ", " ").replace("\\e", "\\")
    return text


def parse_page(path):
    """{section: text}, {subsection heading: text}, {subsection heading: [options it lists as items]}."""
    sections, subsections, items = {}, {}, {}
    section = subsection = None
    after_tp = False
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith('.\\"'):
            continue
        if line.startswith(".SH"):
            section, subsection = normalize(line[3:]).strip().strip('"'), None
            sections[section] = ""
            continue
        if line.startswith(".SS"):
            subsection = normalize(line[3:]).strip().strip('"')
            subsections[subsection] = ""
            items[subsection] = []
            continue
        text = normalize(line)
        if section is not None:
            sections[section] += text + "\n"
        if subsection is not None:
            subsections[subsection] += text + "\n"
        # The tag line of a .TP item names the options it documents.
        if after_tp:
            key = subsection if subsection is not None else section
            items.setdefault(key, []).extend(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", text))
        after_tp = line.startswith(".TP")
    return sections, subsections, items


def mentions(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def commands(node, path):
    """(command path, {long option: default or None}) for the command and every subcommand."""
    options = {}
    for argument in node.get("arguments") or []:
        # Hidden arguments (the help subcommand's own -help) are undocumented by design.
        if argument.get("shouldDisplay") is False:
            continue
        for name in argument.get("names") or []:
            if name["kind"] in ("long", "longWithSingleDash"):
                options["--" + name["name"]] = argument.get("defaultValue")
    yield path, options
    for sub in node.get("subcommands") or []:
        yield from commands(sub, path + " " + sub["commandName"])


def main(dump_path, page_path, ahead_path):
    dump = json.load(open(dump_path, encoding="utf-8"))["command"]
    sections, subsections, items = parse_page(page_path)
    common = sections.get("COMMON OPTIONS", "")
    ahead = set()
    for line in open(ahead_path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if line:
            ahead.add(" ".join(line.split()))
    problems, notes = [], []
    known = dict(commands(dump, dump["commandName"]))
    root = dump["commandName"]

    for path, options in known.items():
        if path != root and path not in subsections:
            problems.append(f"{path}: no subsection (.SS \"{path}\")")
        own = subsections.get(path, "")
        for option, default in sorted(options.items()):
            where = own if mentions(own, option) else common if mentions(common, option) else None
            if where is None:
                problems.append(f"{path} {option}: not documented")
            elif default not in (None, "") and default not in where:
                problems.append(f"{path} {option}: default '{default}' not documented")

    shared = set().union(*(set(o) for o in known.values()))
    for option in items.get("COMMON OPTIONS", []):
        if option not in shared:
            problems.append(f"COMMON OPTIONS {option}: documented, but no command has it (stale)")
    for heading in subsections:
        if not heading.startswith(root + " ") and heading != root:
            continue
        if heading not in known:
            if heading in ahead:
                notes.append(f"documented ahead of the binary: {heading}")
            else:
                problems.append(f"{heading}: documented, but the binary has no such command (stale, or add it to the ahead file)")
            continue
        for option in items.get(heading, []):
            if option in known[heading] or option in items.get("COMMON OPTIONS", []) and option in shared:
                continue
            if f"{heading} {option}" in ahead:
                notes.append(f"documented ahead of the binary: {heading} {option}")
            else:
                problems.append(f"{heading} {option}: documented, but the binary has no such option (stale, or add it to the ahead file)")
    for entry in sorted(ahead):
        parts = entry.rsplit(" ", 1)
        if entry in known or len(parts) == 2 and parts[1].startswith("--") and parts[1] in known.get(parts[0], {}):
            notes.append(f"now in the binary, remove from Integration/man/ahead-of-code: {entry}")

    for note in notes:
        print(f"NOTE: {note}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
