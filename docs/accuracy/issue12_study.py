#!/usr/bin/env python3
"""Issue 12 studies that evaluate-recognition does not run itself: several
frames (k of n photos), a cohort-rank test for strangers, s-norm of pair
scores against a cohort, and a balanced choice of the leave-one-set-out
threshold. Pure Python (no numpy), about 30 s on one core.

  facetracker evaluate-recognition --cache C --desc-out desc.csv DIR... > eval.json
  python3 docs/accuracy/issue12_study.py desc.csv eval.json DIR...

DIRs in the same order as for evaluate-recognition. The open-set roles and
rules are the evaluator's (every third identity with >= 2 photos per set and
single-photo identities are strangers; the others enrol their first 3
photos, at most n - 1). Thresholds: all-sets best for one gallery over all
sets; for each set as its own site, the best on the OTHER sets (from the
evaluator's JSON). Margins 0.05 (resnet128) and 0.04 (faceres), per-person
cap alpha as in access/openset.h.
"""
import csv, json, math, statistics, sys

desc_csv, eval_json, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
P, index = [], {}
for r in csv.reader(open(desc_csv)):
    s, lab, path, ok, sp = int(r[0]), int(r[1]), r[2], int(r[3]), r[4]
    if path not in index:
        index[path] = len(P)
        P.append(dict(set=s, label=lab, path=path))
    v = [float(x) for x in r[5:]] if ok else None
    if v and sp == 'faceres':
        n = math.sqrt(sum(x * x for x in v))
        v = [x / n for x in v]
    P[index[path]][sp] = v
N = len(P)
SP = ('resnet128', 'faceres')
D = {}
for sp in SP:
    M = [[0.0] * N for _ in range(N)]
    for i in range(N):
        for j in range(i + 1, N):
            a, b = P[i][sp], P[j][sp]
            if sp == 'resnet128':
                d = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
            else:
                d = 1 - sum(x * y for x, y in zip(a, b))
            M[i][j] = M[j][i] = d
    D[sp] = M

ev = json.load(open(eval_json))
loso = {s['space']: [x['threshold_from_others'] for x in s['sets']]
        for s in ev['leave_one_set_out'] if s['space'] in SP}
t_all = {s['space']: s['in_sample']['threshold']
         for s in ev['leave_one_set_out'] if s['space'] in SP}
MARGIN = {'resnet128': 0.05, 'faceres': 0.04}
ALPHA = 0.8
names = [d.rstrip('/').split('recognition_')[-1] for d in dirs]


def roles(per_set):
    R, byl, idx = {}, {}, {}
    for i, p in enumerate(P):
        byl.setdefault(p['label'], []).append(i)
    for lab in sorted(byl):
        ids = byl[lab]
        key = P[ids[0]]['set'] if per_set else 0
        c, k = len(ids), idx.get(key, 0)
        stranger = c < 2 or k % 3 == 2
        if c >= 2:
            idx[key] = k + 1
        taken = 0
        for i in ids:
            if stranger:
                R[i] = 's'
            elif taken < min(3, c - 1):
                R[i] = 'e'
                taken += 1
            else:
                R[i] = 'k'
    return R


def gallery(R, sel):
    g = {}
    for i, p in enumerate(P):
        if sel(p) and R[i] == 'e':
            g.setdefault(p['label'], []).append(i)
    return g


def person_thr(g, sp, t):
    out = {}
    for lab, js in g.items():
        near = min((D[sp][x][y] for o, ys in g.items() if o != lab for y in ys for x in js),
                   default=math.inf)
        out[lab] = min(t, ALPHA * near)
    return out


def decide(i, g, sp, t, pthr=None):
    res = sorted((min(D[sp][i][j] for j in js), lab) for lab, js in g.items())
    d1, l1 = res[0]
    d2 = res[1][0] if len(res) > 1 else math.inf
    tp = pthr[l1] if pthr else t
    return (l1 if d1 < tp and d2 - d1 >= MARGIN[sp] else None), d1


def rule_single(sp, pp):
    def f(i, g, T, ctx):
        return decide(i, g, sp, T[sp], ctx.get(sp) if pp else None)[0]
    return f


def rule_both(pp):
    def f(i, g, T, ctx):
        a = decide(i, g, 'resnet128', T['resnet128'], ctx.get('resnet128') if pp else None)[0]
        b = decide(i, g, 'faceres', T['faceres'], ctx.get('faceres') if pp else None)[0]
        return a if a is not None and a == b else None
    return f


def rule_cohort(base, sp):
    # The match must be nearer than the probe's nearest cohort face (the
    # photos of the OTHER sets: faces nobody enrolled at this site).
    def f(i, g, T, ctx):
        who = base(i, g, T, ctx)
        if who is None:
            return None
        s = P[i]['set']
        dmin = min(D[sp][i][j] for j in range(N) if P[j]['set'] != s)
        return who if decide(i, g, sp, T[sp])[1] < dmin else None
    return f


def passages(R, sel, rule, T, k, n):
    g = gallery(R, sel)
    ctx = {sp: person_thr(g, sp, T[sp]) for sp in SP}
    groups = {}
    for i, p in enumerate(P):
        if sel(p) and R[i] in 'ks':
            groups.setdefault((p['label'], R[i]), []).append(i)
    kp = kok = sp_ = sfa = 0
    for (lab, ro), ids in groups.items():
        for grp in [ids[j:j + n] for j in range(0, len(ids), n)]:
            if len(grp) < min(n, k):
                continue
            votes = {}
            for i in grp:
                w = rule(i, g, T, ctx)
                if w is not None:
                    votes[w] = votes.get(w, 0) + 1
            win = [w for w, c in votes.items() if c >= k]
            who = win[0] if len(win) == 1 else None
            if ro == 'k':
                kp += 1
                kok += who == lab
            else:
                sp_ += 1
                sfa += who is not None
    return kp, kok, sp_, sfa


def report(name, rule, k=1, n=1):
    Rg, Rs = roles(False), roles(True)
    kp, kok, s_, sfa = passages(Rg, lambda p: True, rule, t_all, k, n)
    out = f"{name:34s} k={k}/n={n} one gallery: ident {kok}/{kp} strangers in {sfa}/{s_} | per set:"
    tk = tok = ts = tfa = 0
    for s in range(len(dirs)):
        T = {sp: loso[sp][s] for sp in SP}
        a, b, c, d = passages(Rs, lambda p, s=s: p['set'] == s, rule, T, k, n)
        tk, tok, ts, tfa = tk + a, tok + b, ts + c, tfa + d
        out += f" {names[s]} {b}/{a} {d}/{c};"
    print(out + f" sum ident {tok}/{tk} strangers in {tfa}/{ts}")


print('== strangers: rules on single photos, then k of n photos of one identity')
for pp in (False, True):
    tag = ' + per-person' if pp else ''
    for name, rule in [('resnet128' + tag, rule_single('resnet128', pp)),
                       ('faceres' + tag, rule_single('faceres', pp)),
                       ('both agree' + tag, rule_both(pp))]:
        for k, n in [(1, 1), (2, 2), (2, 3), (3, 3)]:
            report(name, rule, k, n)
report('faceres + cohort rank', rule_cohort(rule_single('faceres', False), 'faceres'))
report('resnet128 + cohort rank', rule_cohort(rule_single('resnet128', False), 'resnet128'))

print('== pairs: leave-one-set-out with s-norm and with a balanced threshold choice')
pairs = []
for s, d in enumerate(dirs):
    for r in csv.DictReader(open(d.rstrip('/') + '/pairs.csv')):
        a = index[d.rstrip('/') + '/' + r['image_a']]
        b = index[d.rstrip('/') + '/' + r['image_b']]
        pairs.append((a, b, r['same'] == '1', s))


def best_thr(sc, sel, balanced):
    items = [(sc[q], pairs[q][2], pairs[q][3]) for q in sel]
    ds = sorted(set(x[0] for x in items))
    cands = [ds[0] - 1e-6] + [(a + b) / 2 for a, b in zip(ds, ds[1:])] + [ds[-1] + 1e-6]
    best, bt = -1, None
    by_set = {}
    for x in items:
        by_set.setdefault(x[2], []).append(x)
    for t in cands:
        if balanced:
            acc = statistics.mean(sum((x[0] < t) == x[1] for x in v) / len(v) for v in by_set.values())
        else:
            acc = sum((x[0] < t) == x[1] for x in items) / len(items)
        if acc > best:
            best, bt = acc, t
    return bt


def loso_pairs(sc, balanced):
    cor, per = 0, []
    for s in range(len(dirs)):
        t = best_thr(sc, [q for q in range(len(pairs)) if pairs[q][3] != s], balanced)
        mine = [q for q in range(len(pairs)) if pairs[q][3] == s]
        c = sum((sc[q] < t) == pairs[q][2] for q in mine)
        cor += c
        per.append(100 * c / len(mine))
    return 100 * cor / len(pairs), per


def snorm(sp, cohort):
    memo = {}

    def stats(i, excl):
        if (i, excl) not in memo:
            v = [D[sp][i][j] for j in cohort(i) if P[j]['label'] not in excl]
            if len(v) < 5:
                v = [D[sp][i][j] for j in range(N) if P[j]['set'] != P[i]['set']]
            memo[(i, excl)] = (statistics.mean(v), statistics.pstdev(v))
        return memo[(i, excl)]
    out = []
    for a, b, _, _ in pairs:
        excl = frozenset((P[a]['label'], P[b]['label']))
        (ma, sa), (mb, sb) = stats(a, excl), stats(b, excl)
        d = D[sp][a][b]
        out.append(0.5 * ((d - ma) / sa + (d - mb) / sb))
    return out


in_set = lambda i: [j for j in range(N) if P[j]['set'] == P[i]['set']]
other = lambda i: [j for j in range(N) if P[j]['set'] != P[i]['set']]
for sp in SP:
    for name, sc in [('raw', [D[sp][a][b] for a, b, _, _ in pairs]),
                     ('s-norm, cohort = same set', snorm(sp, in_set)),
                     ('s-norm, cohort = other sets', snorm(sp, other))]:
        for bal in (False, True):
            pooled, per = loso_pairs(sc, bal)
            print(f"{sp:9s} {name:28s} {'balanced' if bal else 'pooled  '} LOSO {pooled:.2f} % | "
                  + ' '.join(f'{names[s]} {x:.1f}' for s, x in enumerate(per)))

print('== strangers with cohort-normalised scores (T-norm of the probe against the other sets\' photos;')
print('   the threshold on the normalised score is the best on the s-normed pairs: all sets / the other sets)')


def tnorm_stats(sp):
    st = {}
    for i in range(N):
        v = [D[sp][i][j] for j in range(N) if P[j]['set'] != P[i]['set']]
        st[i] = (statistics.mean(v), statistics.pstdev(v))
    return st


for sp in SP:
    st = tnorm_stats(sp)
    sc = [0.5 * ((D[sp][a][b] - st[a][0]) / st[a][1] + (D[sp][a][b] - st[b][0]) / st[b][1])
          for a, b, _, _ in pairs]
    z_all = best_thr(sc, range(len(pairs)), False)
    z_loso = [best_thr(sc, [q for q in range(len(pairs)) if pairs[q][3] != s], False)
              for s in range(len(dirs))]
    # z-scores are not distances: the margin is applied to raw distances.

    def rule(i, g, T, ctx, sp=sp, st=st):
        res = sorted((min(D[sp][i][j] for j in js), lab) for lab, js in g.items())
        d1, l1 = res[0]
        d2 = res[1][0] if len(res) > 1 else math.inf
        z = (d1 - st[i][0]) / st[i][1]
        return l1 if z < T['z'] and d2 - d1 >= MARGIN[sp] else None
    Rg, Rs = roles(False), roles(True)
    kp, kok, s_, sfa = passages(Rg, lambda p: True, rule, dict(t_all, z=z_all), 1, 1)
    out = f"{sp + ' T-norm':34s} one gallery (z<{z_all:.2f}): ident {kok}/{kp} strangers in {sfa}/{s_} | per set:"
    tk = tok = ts = tfa = 0
    for s in range(len(dirs)):
        T = {x: loso[x][s] for x in SP}
        T['z'] = z_loso[s]
        a, b, c, d = passages(Rs, lambda p, s=s: p['set'] == s, rule, T, 1, 1)
        tk, tok, ts, tfa = tk + a, tok + b, ts + c, tfa + d
        out += f" {names[s]} {b}/{a} {d}/{c};"
    print(out + f" sum ident {tok}/{tk} strangers in {tfa}/{ts}")
