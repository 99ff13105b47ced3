#!/usr/bin/env python3
"""Convert world-atlas land-110m.json (TopoJSON) to land-110m.txt: one ring per line.

Usage: python3 convert_land.py package/land-110m.json > land-110m.txt

Each output line is one closed ring (outer boundaries and holes alike) as
"lon,lat lon,lat ..." in degrees with two decimals; a hole (a lake inside land) starts
with "h ". Consecutive duplicate points left
after rounding are dropped. Standard library only; deterministic.
"""
import json
import sys


def decode_arcs(topo):
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring_points(arcs, ring):
    out = []
    for i in ring:
        pts = arcs[i] if i >= 0 else list(reversed(arcs[~i]))
        # Arcs share their end points: skip the first point of every arc after the first.
        out.extend(pts if not out else pts[1:])
    return out


def main():
    topo = json.load(open(sys.argv[1]))
    arcs = decode_arcs(topo)
    rings = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            # The first ring of a polygon is its outline, the others are holes (lakes).
            rings.extend((k > 0, ring) for k, ring in enumerate(poly))
    print("# Natural Earth 1:110m land (v4.1.0) via world-atlas 2.0.2 land-110m.json; see README.md")
    for hole, ring in rings:
        pts = []
        for lon, lat in ring_points(arcs, ring):
            p = "%.2f,%.2f" % (lon, lat)
            if not pts or pts[-1] != p:
                pts.append(p)
        if len(pts) >= 3:
            print(("h " if hole else "") + " ".join(pts))


main()
