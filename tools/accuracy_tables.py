#!/usr/bin/env python3
"""Prints the Markdown tables of docs/ACCURACY.md from tools/accuracy.sh's JSON."""
import json, os, sys

out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) and os.path.getsize(p) else None

print('### Detection\n')
print('| set | detector | min score | IoU | faces | detections | precision | recall | AP | mean IoU |')
print('|---|---|---|---|---|---|---|---|---|---|')
for s in ('detection_mitcmu', 'detection_pascal_dlib', 'detection_compreface_points'):
    for det, sc, size in (('ssd', '0.5', '512'), ('ssd', '0.1', '512'), ('tiny', '0.5', '416'), ('tiny', '0.1', '416'), ('tiny', '0.5', '608')):
        for iou in ('0.5', '0.4'):
            d = load(f'{s}.{det}.{sc}.{size}.iou{iou}.json')
            if not d:
                continue
            if d['match'] == 'point-in-box' and iou == '0.4':
                continue
            m = '—' if d['mean_iou'] is None else f"{d['mean_iou']:.3f}"
            crit = 'point in box' if d['match'] == 'point-in-box' else iou
            name = f'{det} {size}' if det == 'tiny' else det
            print(f"| {s[10:]} | {name} | {sc} | {crit} | {d['faces']} | {d['detections']} | {d['precision']:.3f} | {d['recall']:.3f} | {d['average_precision']:.3f} | {m} |")

print('\n### Recognition: verification on pairs.csv\n')
print('| set | pairs | facetracker, similarity warp (default) | facetracker, face-api crop | face-api 1.7.15 pipeline |')
print('|---|---|---|---|---|')
fa = load('rec.faceapi-pipeline.json')
fa_sets = {os.path.basename(s['dir']): s for s in fa['sets']} if fa else {}
def cell(v, key='accuracy_best'):
    return f"{100 * v[key]:.2f} % (t={v['best_threshold']:.3f})" if v else 'n/a'
for s in ('lfw', 'yale', 'bbt', 'ageitgey', 'compreface', 'all'):
    a = load(f'rec.similarity.recognition_{s}.json' if s != 'all' else 'rec.similarity.all.json')
    b = load(f'rec.faceapi.recognition_{s}.json' if s != 'all' else 'rec.faceapi.all.json')
    f = fa_sets.get(f'recognition_{s}') if s != 'all' else (fa['all'] if fa else None)
    va = a['verification'] if a else None
    vb = b['verification'] if b else None
    n = va['pairs'] if va else ''
    fcell = f"{100 * f['accuracy_best']:.2f} % (t={f['best_threshold']:.3f}; {f['missing']} pairs without a face)" if f else 'n/a'
    print(f"| {s} | {n} | {cell(va)} | {cell(vb)} | {fcell} |")

print('\n### Recognition: all sets together\n')
print('| alignment | pair accuracy (best t) | at stored t | TAR @ FAR 1e-3 | photos without face | rank-1 | open-set ident. | stranger false-accept | calibrated t |')
print('|---|---|---|---|---|---|---|---|---|')
for al in ('similarity', 'faceapi'):
    d = load(f'rec.{al}.all.json')
    if not d:
        continue
    v, i = d['verification'], d['identification']
    ct = 'n/a' if i['calibrated_threshold'] is None else f"{i['calibrated_threshold']:.2f}"
    print(f"| {al} | {100*v['accuracy_best']:.2f} % (t={v['best_threshold']:.3f}) | {100*v['accuracy_stored']:.2f} % (t={v['stored_threshold']:.2f}) | {100*v['tar_at_far_1e-3']:.2f} % | {d['photos_without_face']} / {d['photos']} | {100*i['rank1_accuracy']:.2f} % | {100*i['open_set_identification_rate']:.2f} % | {100*i['stranger_false_accept']:.2f} % ({i['stranger_false_accepts']}/{i['stranger_probes']}) | {ct} |")
if fa:
    print(f"\nface-api's pipeline over all pairs: {100*fa['all']['accuracy_best']:.2f} % at its best threshold {fa['all']['best_threshold']:.3f}, {100*fa['all']['accuracy_at_0_6']:.2f} % at its default 0.6; {fa['photos_without_face']} of {fa['photos']} photos without a face.")
