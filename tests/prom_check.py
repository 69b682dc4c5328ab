#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""prom_check.py - check a Prometheus text exposition (format 0.0.4).

Usage: prom_check.py [--prefix P] [--label L] [--no-untyped] [FILE]
       prom_check.py --value 'NAME{LABEL="V",...}' [FILE]

Reads FILE (default: standard input) and checks, line by line:
  - every line is blank, a comment, "# HELP NAME TEXT", "# TYPE NAME TYPE"
    or a sample "NAME[{LABEL="VALUE",...}] VALUE [TIMESTAMP]" with the
    grammar's names, escapes (\\ \" \n in label values, \\ \n in HELP)
    and values (floats, +Inf, -Inf, NaN);
  - every metric family has one HELP and one TYPE, both before its first
    sample, and its samples are not interleaved with another family's;
  - no series (name and label set) appears twice, and no sample repeats
    a label name;
  - a histogram's series are NAME_bucket (with le), NAME_sum and
    NAME_count; per label set its buckets grow with le, +Inf is there
    and equals NAME_count; a summary's quantile samples have quantile;
  - counters are not negative.
Policy options, for kvshm's conventions:
  --prefix P      every family name starts with P
  --label L       every sample has label L
  --no-untyped    no family is untyped (every stat has a known type)
  (and counters' names end in _total).

Prints one line per problem, "LINE: message", and exits 1 if there is
any, else 0. With --value, prints the value of the one series whose name
is NAME and whose labels include those given (exit 1 if not exactly one).
"""
import math
import re
import sys

NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*'
LVALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
FLOAT = r'[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)'
SAMPLE_RE = re.compile(
    r'^(' + NAME + r')(?:\{((?:' + LABEL + r'=' + LVALUE + r',)*(?:' +
    LABEL + r'=' + LVALUE + r')?)\})? (' + FLOAT + r')(?: (-?\d+))?$')
PAIR_RE = re.compile(r'(' + LABEL + r')=(' + LVALUE + r'),?')
HELP_RE = re.compile(r'^# HELP (' + NAME + r') ((?:[^\\\n]|\\[\\n])*)$')
TYPE_RE = re.compile(r'^# TYPE (' + NAME + r') (\S+)$')
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')


def unescape(v):
    return re.sub(r'\\(.)', lambda m: '\n' if m.group(1) == 'n'
                  else m.group(1), v[1:-1])


def fval(s):
    return float(s.replace('Inf', 'inf').replace('NaN', 'nan'))


def family_of(name, types):
    """The family a sample name belongs to, given the TYPEs seen."""
    for suf in ('_bucket', '_sum', '_count'):
        if name.endswith(suf):
            base = name[:-len(suf)]
            if types.get(base) in ('histogram', 'summary'):
                if suf == '_bucket' and types[base] != 'histogram':
                    continue
                return base
    return name


def parse(lines):
    """Yield (lineno, kind, data) for each non-blank line; kind 'error'
    for lines that match no production of the grammar."""
    for no, line in enumerate(lines, 1):
        line = line.rstrip('\n')
        if line == '':
            continue
        if line.startswith('#'):
            if line.startswith('# HELP'):
                m = HELP_RE.match(line)
                yield (no, 'help', m.groups() if m else None)
            elif line.startswith('# TYPE'):
                m = TYPE_RE.match(line)
                yield (no, 'type', m.groups() if m else None)
            continue
        m = SAMPLE_RE.match(line)
        if not m:
            yield (no, 'error', 'not a sample line: ' + line)
            continue
        name, labels, value, _ts = m.groups()
        pairs = []
        if labels:
            pairs = [(k, unescape(v)) for k, v in PAIR_RE.findall(labels)]
        yield (no, 'sample', (name, pairs, value))


def check(lines, prefix=None, label=None, no_untyped=False):
    errs = []
    helps, types, started, done = {}, {}, set(), set()
    series = set()
    current = None
    hist = {}                # (family, labels without le) -> data

    def err(no, msg):
        errs.append('%d: %s' % (no, msg))

    for no, kind, data in parse(lines):
        if kind == 'error':
            err(no, data)
            continue
        if kind in ('help', 'type') and data is None:
            err(no, 'malformed # %s line' % kind.upper())
            continue
        if kind == 'help':
            name, text = data
            if name in helps:
                err(no, 'second HELP for ' + name)
            if name in started:
                err(no, 'HELP for %s after its samples' % name)
            if not text.strip():
                err(no, 'empty HELP for ' + name)
            helps[name] = text
            if prefix and not name.startswith(prefix):
                err(no, '%s does not start with %s' % (name, prefix))
            continue
        if kind == 'type':
            name, typ = data
            if typ not in TYPES:
                err(no, 'unknown type %s for %s' % (typ, name))
            if name in types:
                err(no, 'second TYPE for ' + name)
            if name in started:
                err(no, 'TYPE for %s after its samples' % name)
            types[name] = typ
            if no_untyped and typ == 'untyped':
                err(no, '%s is untyped' % name)
            if typ == 'counter' and not name.endswith('_total'):
                err(no, 'counter %s does not end in _total' % name)
            if prefix and not name.startswith(prefix):
                err(no, '%s does not start with %s' % (name, prefix))
            continue
        name, pairs, value = data
        fam = family_of(name, types)
        if fam not in helps:
            err(no, '%s has no HELP before its samples' % fam)
        if fam not in types:
            err(no, '%s has no TYPE before its samples' % fam)
        if fam != current:
            if fam in done:
                err(no, 'samples of %s are not together' % fam)
            if current is not None:
                done.add(current)
            current = fam
        started.add(fam)
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names):
            err(no, 'a label repeats in ' + name)
        if any(k.startswith('__') for k in names):
            err(no, 'reserved label name in ' + name)
        if label and label not in names:
            err(no, '%s has no label %s' % (name, label))
        key = (name, frozenset(pairs))
        if key in series:
            err(no, 'duplicate series %s%s' % (name, dict(pairs)))
        series.add(key)
        v = fval(value)
        typ = types.get(fam)
        if typ == 'counter' and (v < 0 or math.isnan(v)):
            err(no, 'counter %s is %s' % (name, value))
        if typ == 'histogram':
            if name == fam:
                err(no, 'histogram sample %s lacks _bucket/_sum/_count' %
                    name)
                continue
            rest = frozenset((k, x) for k, x in pairs if k != 'le')
            h = hist.setdefault((fam, rest), {'buckets': [], 'count': None,
                                              'sum': None, 'no': no})
            if name.endswith('_bucket'):
                le = dict(pairs).get('le')
                if le is None:
                    err(no, '%s has no le label' % name)
                    continue
                try:
                    h['buckets'].append((fval(le), v, no))
                except ValueError:
                    err(no, 'bad le "%s"' % le)
            elif name.endswith('_count'):
                h['count'] = v
            else:
                h['sum'] = v
        if typ == 'summary' and name == fam and \
                'quantile' not in names:
            err(no, 'summary sample %s has no quantile' % name)
    for (fam, _), h in hist.items():
        b = h['buckets']
        if [x[0] for x in b] != sorted(x[0] for x in b):
            err(h['no'], '%s buckets are not in le order' % fam)
        for (_, v1, _), (_, v2, no) in zip(b, b[1:]):
            if v2 < v1:
                err(no, '%s buckets are not cumulative' % fam)
        if not b or b[-1][0] != math.inf:
            err(h['no'], '%s has no +Inf bucket' % fam)
        elif h['count'] is None:
            err(h['no'], '%s has no _count' % fam)
        elif h['count'] != b[-1][1]:
            err(h['no'], '%s_count differs from its +Inf bucket' % fam)
        if h['sum'] is None:
            err(h['no'], '%s has no _sum' % fam)
    return errs


def value(lines, query):
    m = re.match(r'^(' + NAME + r')(?:\{(.*)\})?$', query)
    if not m:
        return None, 'bad query'
    name, want = m.group(1), dict(
        (k, unescape(v)) for k, v in PAIR_RE.findall(m.group(2) or ''))
    found = []
    for _no, kind, data in parse(lines):
        if kind != 'sample' or data[0] != name:
            continue
        labels = dict(data[1])
        if all(labels.get(k) == v for k, v in want.items()):
            found.append(data[2])
    if len(found) != 1:
        return None, '%d series match %s' % (len(found), query)
    return found[0], None


def main(argv):
    prefix = label = query = None
    no_untyped = False
    args = argv[1:]
    path = None
    while args:
        a = args.pop(0)
        if a == '--prefix':
            prefix = args.pop(0)
        elif a == '--label':
            label = args.pop(0)
        elif a == '--no-untyped':
            no_untyped = True
        elif a == '--value':
            query = args.pop(0)
        else:
            path = a
    f = open(path) if path else sys.stdin
    text = f.read()
    if text and not text.endswith('\n'):
        print('end: the last line has no newline')
        return 1
    lines = text.split('\n')[:-1] if text else []
    if query:
        v, e = value(lines, query)
        if e:
            print(e, file=sys.stderr)
            return 1
        print(v)
        return 0
    errs = check(lines, prefix, label, no_untyped)
    for e in errs:
        print(e)
    return 1 if errs else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
