#!/usr/bin/env python3
"""Writes the named code blocks of a Markdown file into a directory: a fence whose info
string is "LANGUAGE FILENAME" (```cpp scale_adapter.cpp) becomes DIR/FILENAME.

    snippets.py docs/plugin-sdk.md OUT_DIR     # prints the files written
"""
import os
import re
import sys


def main():
    source, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    name, lines, written = None, [], []
    for line in open(source, encoding="utf-8"):
        fence = re.match(r"^```(\S+)\s+(\S+)\s*$", line)
        if name is None and fence:
            name, lines = fence.group(2), []
        elif name is not None and line.startswith("```"):
            with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
                f.writelines(lines)
            written.append(name)
            name = None
        elif name is not None:
            lines.append(line)
    if name is not None:
        sys.exit(f"{source}: the block of {name} is not closed")
    print("\n".join(written))


if __name__ == "__main__":
    main()
