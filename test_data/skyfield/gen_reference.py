#!/usr/bin/env python3
"""Generate independent reference data for tiandi's contact and eclipse code.

Exact command used (from the repository root, takes ~1 minute):

    python3 test_data/skyfield/gen_reference.py

Requirements (PyPI):  pip install sgp4==2.27 skyfield==1.55 de421==2008.1 numpy
(jplephem comes with skyfield).  Nothing is downloaded at run time: the
timescale is skyfield's builtin one and the Sun/Earth ephemeris is the JPL
DE421 Chebyshev data shipped inside the `de421` PyPI package.

The script is deterministic: rerunning it rewrites byte-identical files
(for the same package versions) into the directory that holds this script:

    satellites.tle  20 synthetic LEO satellites, 3-line TLEs, epoch 2026-11-24
    stations.csv    5 real ground stations
    contacts.csv    every pass above MIN_ELEVATION_DEG, 3-day window
    eclipses.csv    umbra / penumbra intervals (conical shadow), 3-day window

See README.md next to this file for the models and tolerances.
"""

import math
import os
import sys
from datetime import datetime, timedelta, timezone

import numpy as np

import de421
import jplephem
import sgp4
import skyfield
from jplephem.ephem import Ephemeris
from sgp4.api import WGS72, Satrec, jday
from sgp4.exporter import export_tle
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.constants import AU_KM
from skyfield.vectorlib import VectorFunction

OUT_DIR = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

EPOCH = datetime(2026, 11, 24, 0, 0, 0, tzinfo=timezone.utc)  # TLE epoch
WINDOW_START = EPOCH                                            # t = 0 s
WINDOW_SECONDS = 3 * 86400.0                                    # 3 days
MIN_ELEVATION_DEG = 10.0
COARSE_STEP_S = 10.0     # sampling step before refinement
BISECT_ITER = 18         # 10 s / 2**18 = 0.04 ms  (then rounded to 1 ms)
R_EARTH_KM = 6378.137    # shadow model (WGS-84 equatorial radius)
R_SUN_KM = 696000.0

# UT1 - UTC.  We force UT1 = UTC (constant Delta T = TT - UT1 = 69.184 s,
# i.e. 37 leap seconds + 32.184 s) so that the reference does not depend on
# skyfield's builtin IERS prediction for late 2026 (which is +0.085 s).
# Polar motion is zero (skyfield's builtin timescale has no polar motion).
DELTA_T_S = 69.184

# --------------------------------------------------------------------------
# Satellites
# --------------------------------------------------------------------------
MU_WGS72 = 398600.8       # km^3/s^2
RE_WGS72 = 6378.135       # km
J2_WGS72 = 0.001082616
XPDOTP = 1440.0 / (2.0 * math.pi)   # rad/min -> rev/day


def sso_inclination_deg(alt_km, ecc=0.0):
    """Sun-synchronous inclination from the secular J2 nodal rate."""
    a = RE_WGS72 + alt_km
    n = math.sqrt(MU_WGS72 / a**3)                 # rad/s
    p = a * (1.0 - ecc * ecc)
    omega_dot = 2.0 * math.pi / (365.2421897 * 86400.0)
    cosi = -omega_dot / (1.5 * J2_WGS72 * (RE_WGS72 / p) ** 2 * n)
    return math.degrees(math.acos(cosi))


# name, mean altitude km, incl deg (None = sun-synchronous), ecc, RAAN,
# argp, mean anomaly (deg), B* (1/earth radii), ndot/2 (rev/day^2)
SAT_DEFS = [
    ("TD-EQ-600",     600.0,    5.0,  0.0012,  10.0,  90.0,  0.0,   1.2e-4, 2.0e-6),
    ("TD-EQ-1000",   1000.0,    9.5,  0.0005, 200.0, 270.0, 45.0,   2.0e-5, 2.0e-7),
    ("TD-I30-700",    700.0,   30.0,  0.0020,  35.0,  30.0, 120.0,  8.0e-5, 1.0e-6),
    ("TD-I45-500",    500.0,   45.0,  0.0008, 150.0, 100.0, 200.0,  2.5e-4, 8.0e-6),
    ("TD-I45-900E",   900.0,   45.0,  0.0150, 300.0, 180.0, 300.0,  3.0e-5, 3.0e-7),
    ("TD-I53-550A",   550.0,   53.0,  0.0001,   0.0,   0.0,  10.0,  1.5e-4, 5.0e-6),
    ("TD-I53-550B",   550.0,   53.0,  0.0001, 120.0,  60.0, 100.0,  1.5e-4, 5.0e-6),
    ("TD-I53-540C",   540.0,   53.2,  0.0002, 240.0, 120.0, 250.0,  1.8e-4, 6.0e-6),
    ("TD-ISS-420",    420.0,  51.64,  0.0005,  75.0, 330.0,  15.0,  3.0e-4, 1.5e-5),
    ("TD-I70-570",    570.0,   70.0,  0.0003,  45.0,  80.0, 170.0,  1.3e-4, 4.0e-6),
    ("TD-I70-1200",  1200.0,   70.0,  0.0010, 190.0, 200.0,  60.0,  1.0e-5, 1.0e-7),
    ("TD-P879-1200", 1200.0,   87.9,  0.0002,  95.0,  90.0, 330.0,  1.0e-5, 1.0e-7),
    ("TD-P879-1150", 1150.0,   87.9,  0.0004, 275.0, 300.0, 140.0,  1.2e-5, 1.2e-7),
    ("TD-SSO-400",    400.0,   None,  0.0010, 130.0, 100.0,  80.0,  4.0e-4, 2.0e-5),
    ("TD-SSO-500DD",  500.0,   None,  0.0012, 330.0,  70.0, 190.0,  2.2e-4, 8.0e-6),
    ("TD-SSO-600",    600.0,   None,  0.0011,  62.0,  90.0, 270.0,  1.1e-4, 3.0e-6),
    ("TD-SSO-700",    700.0,   None,  0.0013, 210.0, 110.0,  20.0,  7.0e-5, 1.0e-6),
    ("TD-SSO-800",    800.0,   None,  0.0011, 100.0, 250.0, 230.0,  4.0e-5, 5.0e-7),
    ("TD-RETRO-650",  650.0,  140.0,  0.0020, 260.0, 150.0, 310.0,  9.0e-5, 2.0e-6),
    ("TD-I30-1000E", 1000.0,   30.0,  0.0200, 170.0,  45.0,  90.0,  2.5e-5, 2.0e-7),
]
FIRST_SATNUM = 90001

# --------------------------------------------------------------------------
# Ground stations (name, geodetic lat deg, lon deg, height above WGS84 m)
# --------------------------------------------------------------------------
STATIONS = [
    ("Beijing",   40.0000,  116.3000,   60.0),
    ("Kashgar",   39.5000,   75.9300, 1290.0),
    ("Sanya",     18.3100,  109.3100,   50.0),
    ("Svalbard",  78.2300,   15.3900,  500.0),
    ("Santiago", -33.1500,  -70.6700,  720.0),
]


def build_tles():
    jd, fr = jday(EPOCH.year, EPOCH.month, EPOCH.day, EPOCH.hour,
                  EPOCH.minute, EPOCH.second)
    epoch_days_1949 = (jd - 2433281.5) + fr
    out = []
    for k, (name, alt, inc, ecc, raan, argp, ma, bstar, ndot2) in \
            enumerate(SAT_DEFS):
        if inc is None:
            inc = round(sso_inclination_deg(alt, ecc), 4)
        a = RE_WGS72 + alt
        n_rad_min = math.sqrt(MU_WGS72 / a**3) * 60.0
        s = Satrec()
        s.sgp4init(WGS72, 'i', FIRST_SATNUM + k, epoch_days_1949, bstar,
                   ndot2 / (XPDOTP * 1440.0), 0.0, ecc, math.radians(argp),
                   math.radians(inc), math.radians(ma), n_rad_min,
                   math.radians(raan))
        s.classification = 'U'
        s.intldesg = '26%03d%s' % (900 + k // 3, 'ABC'[k % 3])
        s.elnum = 999
        s.revnum = 1000 + 37 * k
        line1, line2 = export_tle(s)
        assert len(line1) == 69 and len(line2) == 69
        out.append((name, line1, line2))
    return out


def read_tle_file(path):
    with open(path) as f:
        lines = [ln.rstrip('\n') for ln in f if ln.strip()]
    assert len(lines) % 3 == 0
    return [(lines[i].strip(), lines[i + 1], lines[i + 2])
            for i in range(0, len(lines), 3)]


# --------------------------------------------------------------------------
# DE421 from the `de421` PyPI package (.npy Chebyshev sets, jplephem's old
# "Ephemeris" format) wrapped as skyfield vector functions so that
# `(sun - earth).at(t)` works exactly like with a loaded .bsp kernel.
# --------------------------------------------------------------------------
_DE421 = Ephemeris(de421)


class _De421Vector(VectorFunction):
    def __init__(self, center, target, fn):
        self.center, self.target, self._fn = center, target, fn

    def _at(self, t):
        p, v = self._fn(t.whole, t.tdb_fraction)       # km, km/day
        return p / AU_KM, v / AU_KM, None, None


def _sun_ssb(whole, frac):
    return _DE421.position_and_velocity('sun', whole, frac)


def _earth_ssb(whole, frac):
    pb, vb = _DE421.position_and_velocity('earthmoon', whole, frac)
    pm, vm = _DE421.position_and_velocity('moon', whole, frac)  # geocentric
    return pb - pm * _DE421.earth_share, vb - vm * _DE421.earth_share


SUN = _De421Vector(0, 10, _sun_ssb)
EARTH = _De421Vector(0, 399, _earth_ssb)

# --------------------------------------------------------------------------
# Time helpers (t is float seconds since WINDOW_START, UTC)
# --------------------------------------------------------------------------
TS = load.timescale(builtin=True, delta_t=DELTA_T_S)


def T(secs):
    secs = np.atleast_1d(np.asarray(secs, dtype=float))
    return TS.utc(WINDOW_START.year, WINDOW_START.month, WINDOW_START.day,
                  WINDOW_START.hour, WINDOW_START.minute, secs)


def iso_ms(ms):
    """Integer milliseconds since WINDOW_START -> ISO-8601 UTC string."""
    d = WINDOW_START + timedelta(milliseconds=int(ms))
    return d.strftime('%Y-%m-%dT%H:%M:%S.') + '%03dZ' % (d.microsecond // 1000)


def to_ms(secs):
    return int(round(secs * 1000.0))


# --------------------------------------------------------------------------
# Generic root finding of "inside" intervals where g(t) < 0
# --------------------------------------------------------------------------

def bisect_boundaries(g, lo, hi, inside_lo):
    """Vectorised bisection of the inside/outside switch in [lo, hi]."""
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    inside_lo = np.array(inside_lo, dtype=bool)
    if lo.size == 0:
        return lo
    for _ in range(BISECT_ITER):
        mid = 0.5 * (lo + hi)
        inside_mid = g(mid) < 0.0
        same = inside_mid == inside_lo
        lo = np.where(same, mid, lo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def refine_minima(g, lo, hi, h=1e-3):
    """Vectorised bisection on the sign of dg/dt (central difference)."""
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    if lo.size == 0:
        return lo, lo
    n_iter = BISECT_ITER + 1          # brackets are up to 2 steps wide
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        a = np.clip(mid - h, 0.0, WINDOW_SECONDS)
        b = np.clip(mid + h, 0.0, WINDOW_SECONDS)
        vals = g(np.concatenate([a, b]))
        rising = vals[lo.size:] > vals[:lo.size]
        hi = np.where(rising, mid, hi)
        lo = np.where(rising, lo, mid)
    tmin = 0.5 * (lo + hi)
    # the minimum may sit on a window edge
    tmin = np.clip(tmin, 0.0, WINDOW_SECONDS)
    return tmin, g(tmin)


def find_inside_intervals(g, coarse_t, coarse_g, margin):
    """Intervals (start, end) where g < 0 inside the window, clipped.

    coarse_t/coarse_g: the samples on the coarse grid.  Crossings between
    samples are bisected; local minima of the samples whose value is below
    `margin` are refined, so that a dip below zero shorter than a step
    (grazing pass / grazing eclipse) is still found.  Returns the intervals
    and the refined minima (t, g) for later use.
    """
    G = coarse_g
    inside = G < 0.0
    n = len(G)
    # 1) refine sampled local minima (including window edges)
    left = np.concatenate([[np.inf], G[:-1]])
    right = np.concatenate([G[1:], [np.inf]])
    idx = np.nonzero((G <= left) & (G <= right) & (G < margin))[0]
    lo_i = np.maximum(idx - 1, 0)
    hi_i = np.minimum(idx + 1, n - 1)
    tmin, gmin = refine_minima(g, coarse_t[lo_i], coarse_t[hi_i])

    # 2) crossing brackets: (lo, hi, inside_lo)
    brackets = [(coarse_t[i], coarse_t[i + 1], inside[i])
                for i in np.nonzero(inside[:-1] != inside[1:])[0]]
    # grazing dips not visible in the samples
    for j, i in enumerate(idx):
        if gmin[j] < 0.0 and not inside[lo_i[j]:hi_i[j] + 1].any():
            if tmin[j] > coarse_t[lo_i[j]]:
                brackets.append((coarse_t[lo_i[j]], tmin[j], False))
            if tmin[j] < coarse_t[hi_i[j]]:
                brackets.append((tmin[j], coarse_t[hi_i[j]], True))
    if brackets:
        lo, hi, ins = map(np.array, zip(*brackets))
        roots = bisect_boundaries(g, lo, hi, ins)
        events = sorted(zip(roots, ~ins))    # True = entering "inside"
    else:
        events = []

    intervals = []
    state = bool(inside[0])
    start = 0.0 if state else None
    for t_ev, entering in events:
        entering = bool(entering)
        if entering == state:
            raise RuntimeError('inconsistent crossing sequence at t=%r' % t_ev)
        if entering:
            start = t_ev
        else:
            intervals.append((start, t_ev))
        state = entering
    if state:
        intervals.append((start, WINDOW_SECONDS))
    return intervals, (tmin, gmin)


# --------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------

def contacts_for_pair(sat, station, coarse_time, coarse_secs):
    diff = sat - station

    def elev(secs):
        alt, _, _ = diff.at(T(secs)).altaz()
        return alt.degrees

    def g(secs):
        return MIN_ELEVATION_DEG - elev(secs)

    coarse_g = MIN_ELEVATION_DEG - diff.at(coarse_time).altaz()[0].degrees
    intervals, (tmin, gmin) = find_inside_intervals(
        g, coarse_secs, coarse_g, margin=5.0)
    rows = []
    for aos, los in intervals:
        sel = (tmin >= aos - 1e-6) & (tmin <= los + 1e-6)
        if not sel.any():
            raise RuntimeError('pass without a refined maximum')
        j = np.argmin(np.where(sel, gmin, np.inf))
        rows.append((aos, los, MIN_ELEVATION_DEG - gmin[j], tmin[j]))
    return rows


# --------------------------------------------------------------------------
# Eclipses
# --------------------------------------------------------------------------

def shadow_functions(sat):
    sun_from_earth = SUN - EARTH

    def geometry(t):
        r_sat = sat.at(t).position.km                 # GCRS, geometric
        r_sun = sun_from_earth.at(t).position.km      # geometric, not apparent
        d = r_sun - r_sat
        dn = np.linalg.norm(d, axis=0)
        rn = np.linalg.norm(r_sat, axis=0)
        a = np.arcsin(R_SUN_KM / dn)
        b = np.arcsin(R_EARTH_KM / rn)
        u = -r_sat
        cross = np.linalg.norm(np.cross(u, d, axis=0), axis=0)
        c = np.arctan2(cross, np.sum(u * d, axis=0))
        return a, b, c

    def g_umbra(secs):
        a, b, c = geometry(T(secs))
        return c - (b - a)

    def g_shadow(secs):                               # umbra or penumbra
        a, b, c = geometry(T(secs))
        return c - (a + b)

    return geometry, g_umbra, g_shadow


def eclipses_for_sat(sat, coarse_time, coarse_secs):
    geometry, g_umbra, g_shadow = shadow_functions(sat)
    a, b, c = geometry(coarse_time)
    margin = math.radians(3.0)
    umbra, _ = find_inside_intervals(g_umbra, coarse_secs, c - (b - a), margin)
    shadow, _ = find_inside_intervals(g_shadow, coarse_secs, c - (a + b),
                                      margin)
    rows = [('umbra', s, e) for s, e in umbra]
    for s, e in shadow:
        cur = s
        for us, ue in umbra:
            if ue <= s or us >= e:
                continue
            if us < cur - 1e-6:
                raise RuntimeError('umbra sticks out of the shadow')
            rows.append(('penumbra', cur, us))
            cur = ue
        rows.append(('penumbra', cur, e))
    return rows


# --------------------------------------------------------------------------

def main():
    # --- satellites.tle: built with python-sgp4, then re-read from the file
    tle_path = os.path.join(OUT_DIR, 'satellites.tle')
    with open(tle_path, 'w', newline='\n') as f:
        for name, l1, l2 in build_tles():
            f.write('%s\n%s\n%s\n' % (name, l1, l2))
    tles = read_tle_file(tle_path)
    sats = []
    for name, l1, l2 in tles:
        s = Satrec.twoline2rv(l1, l2, WGS72)
        assert s.error == 0
        sats.append(EarthSatellite(l1, l2, name, TS))

    # --- stations.csv
    st_path = os.path.join(OUT_DIR, 'stations.csv')
    with open(st_path, 'w', newline='\n') as f:
        f.write('name,latitude_deg,longitude_deg,elevation_m\n')
        for name, lat, lon, h in STATIONS:
            f.write('%s,%.4f,%.4f,%.1f\n' % (name, lat, lon, h))
    stations = [(name, wgs84.latlon(lat, lon, elevation_m=h))
                for name, lat, lon, h in STATIONS]

    coarse_secs = np.arange(0.0, WINDOW_SECONDS + COARSE_STEP_S / 2,
                            COARSE_STEP_S)
    coarse_time = T(coarse_secs)

    # --- contacts.csv
    contacts = []
    for sat in sats:
        for st_name, st in stations:
            for aos, los, emax, tmax in contacts_for_pair(
                    sat, st, coarse_time, coarse_secs):
                contacts.append((to_ms(aos), sat.name, st_name, to_ms(los),
                                 emax, to_ms(tmax), aos == 0.0,
                                 los == WINDOW_SECONDS))
    contacts.sort(key=lambda r: (r[0], r[1], r[2]))
    with open(os.path.join(OUT_DIR, 'contacts.csv'), 'w', newline='\n') as f:
        f.write('satellite,station,aos_utc,los_utc,max_elevation_deg,'
                'max_elevation_utc\n')
        for aos, sn, stn, los, emax, tmax, _, _ in contacts:
            f.write('%s,%s,%s,%s,%.4f,%s\n' % (sn, stn, iso_ms(aos),
                                               iso_ms(los), emax, iso_ms(tmax)))

    # --- eclipses.csv
    eclipses = []
    for sat in sats:
        for kind, s, e in eclipses_for_sat(sat, coarse_time, coarse_secs):
            s_ms, e_ms = to_ms(s), to_ms(e)
            if e_ms > s_ms:
                eclipses.append((s_ms, sat.name, kind, e_ms))
    eclipses.sort(key=lambda r: (r[0], r[1], r[2]))
    with open(os.path.join(OUT_DIR, 'eclipses.csv'), 'w', newline='\n') as f:
        f.write('satellite,kind,start_utc,end_utc\n')
        for s, sn, kind, e in eclipses:
            f.write('%s,%s,%s,%s\n' % (sn, kind, iso_ms(s), iso_ms(e)))

    # --- summary on stdout
    print('versions: python %s, sgp4 %s, skyfield %s, jplephem %s, de421 %s, '
          'numpy %s' % (sys.version.split()[0], sgp4.__version__,
                        skyfield.__version__, jplephem.__version__,
                        _de421_version(), np.__version__))
    clipped = sum(1 for c in contacts if c[6] or c[7])
    print('contacts: %d passes (%d clipped at the window edges)'
          % (len(contacts), clipped))
    n_u = sum(1 for e in eclipses if e[2] == 'umbra')
    print('eclipses: %d intervals (%d umbra, %d penumbra)'
          % (len(eclipses), n_u, len(eclipses) - n_u))


def _de421_version():
    try:
        from importlib.metadata import version
        return version('de421')
    except Exception:
        return 'unknown'


if __name__ == '__main__':
    main()
