#!/usr/bin/env python3
"""check-prometheus.py FILE [EXPR...] - checks that FILE follows the Prometheus
text exposition format 0.0.4, then that each EXPR (a Python expression over
the samples) is true. Exit status 0 when all holds, 1 with a line per fault.

The format's rules checked: every line ends in a newline; '# HELP NAME TEXT'
(TEXT escaping only \\\\ and \\n) and '# TYPE NAME TYPE' at most once per
family and before its first sample; a family's samples in one group; metric
and label names of the allowed characters; label values quoted, escaping
only \\\\ \\" \\n; values as floats; no sample twice. By type: a counter's
name ends in _total and its values are >= 0; a histogram has, per label set,
_bucket samples with an le label whose counts grow with le and end with
le="+Inf" equal to _count, and a _sum. Every sample must belong to a typed
family. When python3's prometheus_client is there, FILE must also parse
with its text_string_to_metric_families.

In EXPR: v(NAME, label=value...) is a sample's value (an error if absent);
cum(NAME, at, label=value...) is the count of histogram NAME's bucket with
the greatest le <= at (0 below the first)."""
import math
import re
import sys

METRIC_NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL_NAME = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = ('counter', 'gauge', 'histogram', 'summary', 'untyped')
HIST_SUFFIXES = ('_bucket', '_sum', '_count')

faults = []


def fault(lineno, msg):
    faults.append('line %d: %s' % (lineno, msg))


def parse_float(text):
    if text in ('+Inf', 'Inf'):
        return math.inf
    if text == '-Inf':
        return -math.inf
    if text == 'NaN':
        return math.nan
    if not re.fullmatch(r'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?',
                        text):
        raise ValueError(text)
    return float(text)


def parse_labels(text, lineno):
    """Parses 'a="x",b="y"}' up to the closing brace. Returns (labels, rest)."""
    labels = {}
    i = 0
    while True:
        if text[i:i + 1] == '}':
            return labels, text[i + 1:]
        m = LABEL_NAME.match(text, i)
        if not m:
            raise ValueError('bad label name at %r' % text[i:])
        name = m.group(0)
        if name.startswith('__'):
            raise ValueError('label name %s is reserved' % name)
        i = m.end()
        if text[i:i + 2] != '="':
            raise ValueError('label %s: no =" after it' % name)
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise ValueError('label %s: value not closed' % name)
            c = text[i]
            if c == '\\':
                esc = text[i + 1:i + 2]
                if esc not in ('\\', '"', 'n'):
                    raise ValueError('label %s: bad escape \\%s' % (name, esc))
                value.append('\n' if esc == 'n' else esc)
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ValueError('label %s twice' % name)
        labels[name] = ''.join(value)
        if text[i:i + 1] == ',':
            i += 1
        elif text[i:i + 1] != '}':
            raise ValueError('label %s: no , or } after it' % name)


def family_of(name, types):
    """The family a sample name belongs to: itself, or a histogram's."""
    if name in types:
        return name
    for suffix in HIST_SUFFIXES:
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ('histogram',
                                                         'summary'):
            return base
    return name


class Exposition:
    def __init__(self):
        self.helps, self.types = {}, {}
        self.samples = {}   # (name, frozenset(labels)) -> value
        self.order = []     # (lineno, name, labels, value)
        self.done = set()   # families whose group has ended

    def comment(self, lineno, line):
        parts = line[1:].strip().split(None, 2)
        if len(parts) < 2 or parts[0] not in ('HELP', 'TYPE'):
            return
        kind, name = parts[0], parts[1]
        if not METRIC_NAME.fullmatch(name):
            fault(lineno, 'bad metric name %r' % name)
        table = self.helps if kind == 'HELP' else self.types
        if name in table:
            fault(lineno, '%s for %s twice' % (kind, name))
        if any(s[1] == name or family_of(s[1], self.types) == name
               for s in self.order):
            fault(lineno, '%s for %s after its samples' % (kind, name))
        if kind == 'HELP':
            text = parts[2] if len(parts) > 2 else ''
            if not re.fullmatch(r'([^\\]|\\[\\n])*', text):
                fault(lineno, 'HELP %s: bad escape' % name)
            table[name] = text
        else:
            if len(parts) != 3 or parts[2] not in TYPES:
                fault(lineno, 'TYPE %s: bad type' % name)
            table[name] = parts[2] if len(parts) == 3 else None

    def sample(self, lineno, line):
        m = METRIC_NAME.match(line)
        if not m:
            fault(lineno, 'bad sample line %r' % line)
            return
        name, rest = m.group(0), line[m.end():]
        labels = {}
        try:
            if rest.startswith('{'):
                labels, rest = parse_labels(rest[1:], lineno)
            fields = rest.split()
            if not rest[:1].isspace() or not 1 <= len(fields) <= 2:
                raise ValueError('no value after the name')
            value = parse_float(fields[0])
            if len(fields) == 2 and not re.fullmatch(r'-?[0-9]+', fields[1]):
                raise ValueError('bad timestamp %r' % fields[1])
        except ValueError as e:
            fault(lineno, '%s: %s' % (name, e))
            return
        family = family_of(name, self.types)
        if family not in self.types:
            fault(lineno, '%s: no TYPE before it' % name)
        if family in self.done:
            fault(lineno, '%s: its family %s is not one group' % (name, family))
        if self.order and family_of(self.order[-1][1], self.types) != family:
            self.done.add(family_of(self.order[-1][1], self.types))
        key = (name, frozenset(labels.items()))
        if key in self.samples:
            fault(lineno, '%s%s twice' % (name, labels))
        self.samples[key] = value
        self.order.append((lineno, name, labels, value))

    def check_types(self):
        for lineno, name, labels, value in self.order:
            kind = self.types.get(family_of(name, self.types))
            if kind == 'counter':
                if not name.endswith('_total'):
                    fault(lineno, 'counter %s does not end in _total' % name)
                if not value >= 0:
                    fault(lineno, 'counter %s is %r' % (name, value))
        for family, kind in self.types.items():
            if kind == 'histogram':
                self.check_histogram(family)

    def check_histogram(self, family):
        series = {}
        for lineno, name, labels, value in self.order:
            if family_of(name, self.types) != family:
                continue
            rest = frozenset((k, v) for k, v in labels.items() if k != 'le')
            s = series.setdefault(rest, {'buckets': [], 'sum': None,
                                         'count': None, 'line': lineno})
            if name == family + '_bucket':
                if 'le' not in labels:
                    fault(lineno, '%s without le' % name)
                    continue
                try:
                    s['buckets'].append((parse_float(labels['le']), value))
                except ValueError:
                    fault(lineno, '%s: le %r' % (name, labels['le']))
            elif name in (family + '_sum', family + '_count'):
                s[name[len(family) + 1:]] = value
            else:
                fault(lineno, '%s is no part of histogram %s' % (name, family))
        for rest, s in series.items():
            where = '%s%s' % (family, dict(rest))
            buckets = sorted(s['buckets'])
            counts = [c for _, c in buckets]
            if counts != sorted(counts):
                fault(s['line'], '%s: buckets not cumulative' % where)
            if not buckets or buckets[-1][0] != math.inf:
                fault(s['line'], '%s: no le="+Inf" bucket' % where)
            elif s['count'] != buckets[-1][1]:
                fault(s['line'], '%s: +Inf bucket %r != _count %r'
                      % (where, buckets[-1][1], s['count']))
            if s['sum'] is None:
                fault(s['line'], '%s: no _sum' % where)


def read(path):
    data = open(path, 'rb').read()
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        fault(0, 'not UTF-8: %s' % e)
        return None, ''
    if text and not text.endswith('\n'):
        fault(text.count('\n') + 1, 'the last line has no newline')
    exp = Exposition()
    for lineno, line in enumerate(text.split('\n')[:-1], 1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith('#'):
            exp.comment(lineno, stripped)
        else:
            exp.sample(lineno, stripped)
    exp.check_types()
    return exp, text


def with_client(text):
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        return
    try:
        list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own complaint, whatever its type
        fault(0, 'prometheus_client cannot parse it: %s' % e)


def evaluate(exp, exprs):
    def v(name, **labels):
        key = (name, frozenset(labels.items()))
        if key not in exp.samples:
            raise KeyError('no sample %s%s' % (name, labels))
        return exp.samples[key]

    def cum(name, at, **labels):
        best, count = -math.inf, 0
        for (n, lab), value in exp.samples.items():
            lab = dict(lab)
            le = parse_float(lab.pop('le', 'NaN'))
            if n == name + '_bucket' and lab == labels and best < le <= at:
                best, count = le, value
        return count

    for expr in exprs:
        try:
            ok = eval(expr, {'v': v, 'cum': cum, 'math': math})
        except Exception as e:  # an absent sample, a typo: a fault
            fault(0, '%s: %s' % (expr, e))
            continue
        if not ok:
            fault(0, 'not true: %s' % expr)


def main():
    if len(sys.argv) < 2:
        sys.exit('usage: check-prometheus.py FILE [EXPR...]')
    exp, text = read(sys.argv[1])
    if exp:
        with_client(text)
        evaluate(exp, sys.argv[2:])
    for f in faults:
        print('check-prometheus: %s: %s' % (sys.argv[1], f))
    sys.exit(1 if faults else 0)


if __name__ == '__main__':
    main()
