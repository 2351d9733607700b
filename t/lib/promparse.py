#!/usr/bin/env python3
"""promparse.py - a Prometheus text exposition on stdin, parsed whole by
prometheus_client's parser; one line per sample on stdout:

    name{label="value",...} value

labels sorted by name, the value as an integer when it is one.  Exit
status 1 when the parser refuses the input, or when a family has no
# TYPE line (the parser then calls it "unknown") or no # HELP line."""
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    bad = 0
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's refusal, whatever its class
        print("promparse: %s" % e, file=sys.stderr)
        return 1
    for f in families:
        if f.type == "unknown" or not f.documentation:
            print("promparse: %s: no TYPE or HELP" % f.name, file=sys.stderr)
            bad = 1
        for s in f.samples:
            labels = ",".join('%s="%s"' % (k, v.replace("\\", "\\\\").replace('"', '\\"'))
                              for k, v in sorted(s.labels.items()))
            v = s.value
            if v == int(v):
                v = int(v)
            print("%s%s %s" % (s.name, "{%s}" % labels if labels else "", v))
    return bad


if __name__ == "__main__":
    sys.exit(main())
