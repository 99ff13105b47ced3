//! The figures, drawn with plotters' SVG backend: map, latency CDFs, bar charts, heat map,
//! a satellite's time series, faults, and the planner's breakdowns.
//!
//! Colours: each policy has one colour in every figure ([`policy_colour`]). Text, axes,
//! legend boxes, ocean and land use fixed "sentinel" colours that the page's CSS maps to
//! the light or dark theme, so one SVG serves both.

use std::collections::BTreeMap;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::HtmlError;
use crate::geo::{self, Geography, Ring};
use tiandi_network::LinkKind;
use tiandi_orbit::Epoch;
use tiandi_report::iot::IotFigures;
use tiandi_report::tasks::TaskRow;
use tiandi_sim::model::{FaultRecord, LinkSample, NodeSample};

use crate::load::{Output, PolicyData};

/// Sentinel colours, restyled by the page's CSS (see `page.rs`).
pub const OCEAN: RGBColor = RGBColor(0xDD, 0xEB, 0xF7);
pub const LAND: RGBColor = RGBColor(0xE4, 0xDC, 0xCB);
/// Legend background.
pub const PANEL: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
/// Grid lines: a mid grey reads on both themes.
const GRID: RGBColor = RGBColor(0x80, 0x80, 0x80);

const FONT: &str = "sans-serif";
const TITLE_PX: u32 = 24;
const LABEL_PX: u32 = 17;

/// One figure: the SVG and the words the page and the checks need.
#[derive(Clone, Debug)]
pub struct Figure {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Inline SVG (no XML namespace attribute: HTML puts `<svg>` in the SVG namespace).
    pub svg: String,
    /// A sentence under the figure: what it shows and where the data came from.
    pub caption: String,
}

/// Colour of a policy, the same in every figure of every report: the four built-in
/// policies have fixed colours (colour-blind-safe, after Okabe and Ito), others take the
/// next free one by their position.
pub fn policy_colour(name: &str, idx: usize) -> RGBColor {
    match name {
        "bent-pipe" => RGBColor(0xE6, 0x61, 0x00),
        "onboard" => RGBColor(0x1A, 0x9E, 0x77),
        "nearest" => RGBColor(0xB5, 0x65, 0xA7),
        "unified" => RGBColor(0x2E, 0x86, 0xDE),
        _ => [
            RGBColor(0xC9, 0xA2, 0x27),
            RGBColor(0x7F, 0x7F, 0x7F),
            RGBColor(0x56, 0xB4, 0xE9),
            RGBColor(0x8C, 0x56, 0x4B),
        ][idx % 4],
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Renders one SVG of `w` x `h` pixels.
fn render(w: u32, h: u32, draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<String, HtmlError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        draw(&root).map_err(|e| HtmlError::Draw(e.to_string()))?;
        root.present().map_err(|e| HtmlError::Draw(e.to_string()))?;
    }
    Ok(buf.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1))
}

fn grid_bold() -> ShapeStyle {
    GRID.mix(0.35).stroke_width(1)
}

fn grid_light() -> ShapeStyle {
    GRID.mix(0.12).stroke_width(1)
}

fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
}

fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
}

/// Evenly thinned indices of `0..n` (at most `max`, always the last).
fn thin(n: usize, max: usize) -> impl Iterator<Item = usize> {
    let stride = n.div_ceil(max.max(1)).max(1);
    (0..n).filter(move |i| i % stride == 0 || *i + 1 == n)
}

// ---------------------------------------------------------------------------------------
// Map

/// What to draw on a map besides land.
pub struct MapLayers<'a> {
    pub geo: &'a Geography,
    /// Time of the snapshot, s from the run's start.
    pub t_s: f64,
    /// Links that carried data at the snapshot (from the output).
    pub used_links: Vec<LinkSample>,
    /// Satellite to highlight with its ground track.
    pub highlight: Option<u32>,
}

/// Axis titles of the world maps.
const MAP_X_LABEL: &str = "longitude (deg E)";
const MAP_Y_LABEL: &str = "latitude (deg N)";

/// A chart with numeric axes, x and y (a map's are longitude and latitude).
type XyChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// An equirectangular world map filling `root`: ocean, graticule and Natural Earth land.
fn world_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
) -> Result<XyChart<'a, 'b>, Box<dyn std::error::Error>> {
    map_chart(root, title, (-180.0, 180.0), (-90.0, 90.0), (13, 7))
}

/// An equirectangular map of a longitude and a latitude range (degrees) with `labels`
/// (x, y) axis labels.
fn map_chart<'a, 'b>(
    root: &'a Area<'b>,
    title: &str,
    lon: (f64, f64),
    lat: (f64, f64),
    labels: (usize, usize),
) -> Result<XyChart<'a, 'b>, Box<dyn std::error::Error>> {
    let (land, holes) = geo::land();
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, TITLE_PX))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(lon.0..lon.1, lat.0..lat.1)?;
    chart.plotting_area().fill(&OCEAN)?;
    chart
        .configure_mesh()
        .x_labels(labels.0)
        .y_labels(labels.1)
        .x_desc(MAP_X_LABEL)
        .y_desc(MAP_Y_LABEL)
        .label_style((FONT, LABEL_PX))
        .bold_line_style(grid_bold())
        .light_line_style(TRANSPARENT)
        .draw()?;
    chart.draw_series(land.iter().map(|r| Polygon::new(r.clone(), LAND.filled())))?;
    chart.draw_series(
        holes
            .iter()
            .map(|r| Polygon::new(r.clone(), OCEAN.filled())),
    )?;
    Ok(chart)
}

/// The legend of a chart's labelled series, in the house style.
fn draw_legend<'a, 'b: 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, CT>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 16))
        .background_style(PANEL.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Node positions (longitude, latitude) at one instant, by node index; `None` where unknown.
type Positions = [Option<(f64, f64)>];

/// Map segments of the links `(a, b)` whose ends have positions, split at the antimeridian.
fn link_segments(
    pos: &Positions,
    links: impl Iterator<Item = (u32, u32)>,
) -> Vec<((f64, f64), (f64, f64))> {
    links
        .filter_map(|(a, b)| {
            Some((
                pos.get(a as usize).copied()??,
                pos.get(b as usize).copied()??,
            ))
        })
        .flat_map(|(p, q)| geo::wrap_segment(p, q))
        .collect()
}

/// User regions, filled and outlined.
fn draw_regions(chart: &mut XyChart<'_, '_>, geo: &Geography) -> DrawResult {
    let region_c = RGBColor(0xD4, 0x8A, 0x00);
    let regions = geo.regions();
    chart.draw_series(
        regions
            .iter()
            .map(|(_, r)| Polygon::new(r.clone(), region_c.mix(0.25).filled())),
    )?;
    chart
        .draw_series(
            regions
                .iter()
                .map(|(_, r)| PathElement::new(r.clone(), region_c.stroke_width(1))),
        )?
        .label("user region")
        .legend(legend_box(region_c));
    Ok(())
}

/// Every link of the topology at the snapshot in grey, then the links that carried data,
/// coloured by kind.
fn draw_links(
    chart: &mut XyChart<'_, '_>,
    pos: &Positions,
    topology: Option<&[(u32, u32)]>,
    used: &[LinkSample],
) -> DrawResult {
    if let Some(links) = topology {
        let idle = GRID.mix(0.35).stroke_width(1);
        chart
            .draw_series(
                link_segments(pos, links.iter().copied())
                    .into_iter()
                    .map(|(p, q)| PathElement::new(vec![p, q], idle)),
            )?
            .label("link (topology at this instant)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], idle));
    }
    for (kind, c, name) in [
        (
            LinkKind::Fibre,
            RGBColor(0x8E, 0x44, 0xAD),
            "fibre carrying data",
        ),
        (
            LinkKind::Isl,
            RGBColor(0xE6, 0x61, 0x00),
            "ISL carrying data",
        ),
        (
            LinkKind::Gsl,
            RGBColor(0x1A, 0x9E, 0x77),
            "GSL carrying data",
        ),
    ] {
        let of_kind = used.iter().filter(|l| l.kind == kind).map(|l| (l.a, l.b));
        chart
            .draw_series(
                link_segments(pos, of_kind)
                    .into_iter()
                    .map(|(p, q)| PathElement::new(vec![p, q], c.stroke_width(2))),
            )?
            .label(name)
            .legend(legend_line(c));
    }
    Ok(())
}

/// Sub-satellite track of satellite `sat` for `minutes` either side of `t`.
fn track(geo: &Geography, sat: usize, t: Epoch, minutes: i32) -> Vec<Ring> {
    let pts: Vec<(f64, f64)> = (-minutes..=minutes)
        .filter_map(|m| geo.sub_point(sat, t.add_s_f64(f64::from(m) * 60.0)))
        .collect();
    geo::split_at_antimeridian(&pts)
}

/// Minutes of ground track drawn either side of the snapshot: about half an orbit.
const TRACK_MIN: i32 = 48;

/// One ground track per plane (its first satellite), and every satellite at `t`: the full
/// set of tracks would hide the map.
fn draw_satellites(
    chart: &mut XyChart<'_, '_>,
    geo: &Geography,
    t: Epoch,
    pos: &Positions,
) -> DrawResult {
    let n_sats = geo.satellites().len();
    let n_planes = geo.spec().n_planes.unwrap_or(1).max(1) as usize;
    let per_plane = (n_sats / n_planes).max(1);
    let track_c = RGBColor(0x4A, 0x6F, 0xA5);
    let tracks: Vec<Ring> = (0..n_planes)
        .map(|p| p * per_plane)
        .filter(|&s| s < n_sats)
        .flat_map(|s| track(geo, s, t, TRACK_MIN))
        .collect();
    chart
        .draw_series(
            tracks
                .into_iter()
                .map(|r| PathElement::new(r, track_c.mix(0.7).stroke_width(1))),
        )?
        .label("ground track, one satellite per plane (+-48 min)")
        .legend(legend_line(track_c));
    chart
        .draw_series(
            pos[..n_sats]
                .iter()
                .flatten()
                .map(|&p| Circle::new(p, 2, track_c.filled())),
        )?
        .label("satellite")
        .legend(move |(x, y)| Circle::new((x + 6, y), 3, track_c.filled()));
    Ok(())
}

/// Ground stations and data centres.
fn draw_ground_segment(chart: &mut XyChart<'_, '_>, geo: &Geography) -> DrawResult {
    let st_c = RGBColor(0xC0, 0x39, 0x2B);
    chart
        .draw_series(
            geo.stations()
                .iter()
                .map(|p| TriangleMarker::new((p.lon, p.lat), 6, st_c.filled())),
        )?
        .label("ground station")
        .legend(move |(x, y)| TriangleMarker::new((x + 6, y), 6, st_c.filled()));
    let dc_c = RGBColor(0x6C, 0x34, 0x83);
    chart
        .draw_series(geo.data_centres().iter().map(|p| {
            EmptyElement::at((p.lon, p.lat)) + Rectangle::new([(-4, -4), (4, 4)], dc_c.filled())
        }))?
        .label("data centre")
        .legend(move |(x, y)| Rectangle::new([(x + 2, y - 4), (x + 10, y + 4)], dc_c.filled()));
    Ok(())
}

/// The satellite of the power/thermal figure: its track, a ring and its name.
fn draw_highlight(
    chart: &mut XyChart<'_, '_>,
    geo: &Geography,
    t: Epoch,
    pos: &Positions,
    sat: usize,
) -> DrawResult {
    let c = RGBColor(0xE0, 0x1B, 0x84);
    for r in track(geo, sat, t, TRACK_MIN) {
        chart.draw_series(std::iter::once(PathElement::new(r, c.stroke_width(2))))?;
    }
    if let Some(p) = pos[sat] {
        chart
            .draw_series(std::iter::once(
                EmptyElement::at(p)
                    + Circle::new((0, 0), 6, c.stroke_width(2))
                    + Text::new(geo.labels[sat].clone(), (8, -14), (FONT, LABEL_PX)),
            ))?
            .label("satellite of the power/thermal figure")
            .legend(move |(x, y)| Circle::new((x + 6, y), 5, c.stroke_width(2)));
    }
    Ok(())
}

/// The world map with ground tracks, ground segment and a snapshot of links.
pub fn map_figure(out: &Output, layers: &MapLayers<'_>, policy: &str) -> Result<Figure, HtmlError> {
    let geo = layers.geo;
    let t = out.start.add_s_f64(layers.t_s);
    let pos = geo.node_positions(t);
    let topology = geo.topology(t);
    let title = format!(
        "Network at T+{} ({policy}): ground tracks, ground segment, links",
        hhmm(layers.t_s)
    );
    let highlight = layers
        .highlight
        .map(|s| s as usize)
        .filter(|&s| s < geo.satellites().len());
    let svg = render(1160, 640, |root| {
        let mut chart = world_chart(root, &title)?;
        draw_regions(&mut chart, geo)?;
        let links = topology.as_ref().ok().map(Vec::as_slice);
        draw_links(&mut chart, &pos, links, &layers.used_links)?;
        draw_satellites(&mut chart, geo, t, &pos)?;
        draw_ground_segment(&mut chart, geo)?;
        if let Some(s) = highlight {
            draw_highlight(&mut chart, geo, t, &pos, s)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })?;
    let topo_note = match &topology {
        Ok(l) => format!(
            "{} links exist at this instant (rebuilt from the scenario's link rules, grey)",
            l.len()
        ),
        Err(e) => format!("the topology could not be rebuilt ({e})"),
    };
    Ok(Figure {
        id: "map".into(),
        title,
        x_label: MAP_X_LABEL.into(),
        y_label: MAP_Y_LABEL.into(),
        svg,
        caption: format!(
            "Equirectangular map, Natural Earth 1:110m land. Snapshot at the step when policy {policy} moved the most bytes; {} of its links carried data then (coloured, from the link output); {topo_note}. Positions by SGP4 from the scenario: {}.",
            layers.used_links.len(),
            geo.found
        ),
    })
}

/// Where faults struck, on the map: position of the satellite at each fault.
pub fn fault_map_figure(
    geo: &Geography,
    faults: &[FaultRecord],
    policy: &str,
) -> Result<Figure, HtmlError> {
    let title = format!("Where faults struck ({policy}): sub-satellite point at each upset");
    let pts: Vec<((f64, f64), &FaultRecord)> = faults
        .iter()
        .filter_map(|f| Some((geo.sub_point(f.satellite as usize, f.t)?, f)))
        .collect();
    let svg = render(1160, 600, |root| {
        let mut chart = world_chart(root, &title)?;
        draw_faults(&mut chart, &pts, 4)?;
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft)
    })?;
    Ok(Figure {
        id: "fault-map".into(),
        title,
        x_label: MAP_X_LABEL.into(),
        y_label: MAP_Y_LABEL.into(),
        svg,
        caption: format!(
            "{} faults of policy {policy}, placed by propagating the satellite to the fault's time.",
            pts.len()
        ),
    })
}

fn fault_class(f: &FaultRecord) -> u8 {
    match (f.task, f.recovered) {
        (None, _) => 0,
        (Some(_), true) => 1,
        (Some(_), false) => 2,
    }
}

fn fault_classes() -> [(u8, RGBColor, &'static str); 3] {
    [
        (0, GRID, "no stage running"),
        (1, RGBColor(0x1A, 0x9E, 0x77), "stage restarted (recovered)"),
        (2, RGBColor(0xC0, 0x39, 0x2B), "task failed"),
    ]
}

/// A marker of `radius_px` at each fault's point, one labelled series per class.
fn draw_faults(
    chart: &mut XyChart<'_, '_>,
    pts: &[((f64, f64), &FaultRecord)],
    radius_px: i32,
) -> DrawResult {
    for (cls, c, name) in fault_classes() {
        chart
            .draw_series(
                pts.iter()
                    .filter(|(_, f)| fault_class(f) == cls)
                    .map(|(p, _)| Circle::new(*p, radius_px, c.filled())),
            )?
            .label(name)
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
    }
    Ok(())
}

/// When faults struck: time against satellite.
pub fn fault_timeline_figure(
    out: &Output,
    faults: &[FaultRecord],
    policy: &str,
    n_sats: u32,
) -> Result<Figure, HtmlError> {
    let title = format!("When faults struck ({policy})");
    let (x_label, y_label) = ("time since start (h)", "satellite index");
    let hours = (out.duration_s() / 3_600.0).max(1e-3);
    // Hours since the start, and the middle of the satellite's row.
    let pts: Vec<((f64, f64), &FaultRecord)> = faults
        .iter()
        .map(|f| {
            let at = (
                out.since_start_s(f.t) / 3_600.0,
                f64::from(f.satellite) + 0.5,
            );
            (at, f)
        })
        .collect();
    let svg = render(1160, 380, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, TITLE_PX))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..hours, 0f64..f64::from(n_sats.max(1)))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        draw_faults(&mut chart, &pts, 3)?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Figure {
        id: "fault-timeline".into(),
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: format!("{} fault records of policy {policy}.", faults.len()),
    })
}

/// "40 s", "3 min" or "1.5 h".
fn duration_text(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7_200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3_600.0)
    }
}

/// "h:mm" of seconds.
pub fn hhmm(t_s: f64) -> String {
    let m = (t_s / 60.0).round() as i64;
    format!("{}:{:02}", m / 60, m % 60)
}

// ---------------------------------------------------------------------------------------
// Tasks

/// Completion-latency CDF of one task kind, one line per policy. The curve of a policy
/// ends at the fraction of its tasks that completed.
pub fn cdf_figure(
    out: &Output,
    kind: &str,
    runs: &[(&PolicyData, &[TaskRow])],
) -> Result<Option<Figure>, HtmlError> {
    let mut curves = Vec::new();
    let (mut lo, mut hi) = (f64::INFINITY, 0f64);
    for (i, (run, tasks)) in runs.iter().enumerate() {
        let of_kind: Vec<&TaskRow> = tasks.iter().filter(|t| t.kind.as_str() == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        // A latency below 1 ms is drawn at 1 ms: the log axis needs a floor.
        let mut lat: Vec<f64> = of_kind
            .iter()
            .filter_map(|t| out.latency_s(t))
            .map(|l| l.max(1e-3))
            .collect();
        lat.sort_by(f64::total_cmp);
        if let (Some(&a), Some(&b)) = (lat.first(), lat.last()) {
            lo = lo.min(a);
            hi = hi.max(b);
        }
        let n = of_kind.len() as f64;
        let pts: Vec<(f64, f64)> = thin(lat.len(), 400)
            .map(|k| (lat[k], (k + 1) as f64 / n))
            .collect();
        curves.push((
            run.figures.policy.clone(),
            policy_colour(&run.figures.policy, i),
            pts,
        ));
    }
    if curves.iter().all(|c| c.2.is_empty()) {
        return Ok(None);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    let title = format!("Completion latency CDF: {kind}");
    let (x_label, y_label) = (
        "completion latency, arrival to result (s, log scale)",
        "fraction of tasks completed (%)",
    );
    let svg = render(720, 400, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, TITLE_PX))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..100f64)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .x_label_formatter(&|v| format!("{v}"))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        for (name, c, pts) in &curves {
            let mut line = vec![(pts.first().map_or(lo, |p| p.0), 0.0)];
            line.extend(pts.iter().map(|&(x, y)| (x, y * 100.0)));
            if let Some(&(_, y)) = pts.last() {
                line.push((hi, y * 100.0));
            }
            chart
                .draw_series(LineSeries::new(line, c.stroke_width(2)))?
                .label(name.as_str())
                .legend(legend_line(*c));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
    })?;
    Ok(Some(Figure {
        id: format!("cdf-{kind}"),
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: format!(
            "Share of all {kind} tasks whose result arrived within the latency on the x axis (tasks.csv); a curve levels off at the share that completed."
        ),
    }))
}

/// A categorical axis: `n` groups centred on 0, 1, ... with one tick at each centre
/// (plotters' numeric axes place ticks at round numbers instead).
#[derive(Clone, Copy, Debug)]
pub struct Categories(pub usize);

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let f = (value + 0.5) / self.0.max(1) as f64;
        limit.0 + (f64::from(limit.1 - limit.0) * f).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Ticks and labels at the centres; no light grid lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.0).map(|i| i as f64).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        -0.5..self.0.max(1) as f64 - 0.5
    }
}

fn categories(n: usize) -> Categories {
    Categories(n.max(1))
}

/// The name of the category at `v`, for an axis made by [`categories`].
fn category_name(names: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Grouped bars: one group per category, one bar per series (`None`: no bar).
fn grouped_bars(
    title: &str,
    x_label: &str,
    y_label: &str,
    groups: &[String],
    series: &[(String, RGBColor, Vec<Option<f64>>)],
    y_max: f64,
    value_text: &dyn Fn(f64) -> String,
) -> Result<String, HtmlError> {
    let n_series = series.len().max(1) as f64;
    render(720, 400, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, TITLE_PX))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(categories(groups.len()), 0f64..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| category_name(groups, *v))
            .y_label_formatter(&|v| {
                if y_max >= 50.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        for (k, (name, c, values)) in series.iter().enumerate() {
            let x0 = |g: usize| g as f64 - 0.4 + 0.8 * k as f64 / n_series;
            let x1 = |g: usize| g as f64 - 0.4 + 0.8 * (k as f64 + 0.85) / n_series;
            let bars: Vec<(usize, f64)> = values
                .iter()
                .enumerate()
                .filter_map(|(g, v)| Some((g, (*v)?)))
                .collect();
            chart
                .draw_series(
                    bars.iter()
                        .map(|&(g, v)| Rectangle::new([(x0(g), 0.0), (x1(g), v)], c.filled())),
                )?
                .label(name.as_str())
                .legend(legend_box(*c));
            chart.draw_series(bars.iter().map(|&(g, v)| {
                EmptyElement::at(((x0(g) + x1(g)) / 2.0, v))
                    + Text::new(
                        value_text(v),
                        (0, -3),
                        TextStyle::from((FONT, 14).into_font())
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )
            }))?;
        }
        if series.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}

/// Deadline-met ratio by task kind, a bar per policy (from summary.json).
pub fn deadline_figure(out: &Output) -> Result<Option<Figure>, HtmlError> {
    let kinds = kinds_of(out);
    if kinds.is_empty() {
        return Ok(None);
    }
    let series: Vec<_> = out
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = &r.figures;
            let v = kinds
                .iter()
                .map(|k| {
                    p.by_kind
                        .iter()
                        .find(|b| &b.kind == k)
                        .and_then(|b| b.deadline_met_ratio)
                        .map(|x| x * 100.0)
                })
                .collect();
            (p.policy.clone(), policy_colour(&p.policy, i), v)
        })
        .collect();
    let title = "Deadline met, by task kind";
    let (x_label, y_label) = ("task kind", "tasks meeting their deadline (%)");
    // Headroom above 100 % for the legend.
    let svg = grouped_bars(title, x_label, y_label, &kinds, &series, 135.0, &|v| {
        format!("{v:.0}")
    })?;
    Ok(Some(Figure {
        id: "deadline".into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: "Share of each kind's tasks whose result arrived by the deadline (summary.json, by_kind).".into(),
    }))
}

/// Downlink and ISL bytes per policy (from summary.json).
pub fn bytes_figure(out: &Output) -> Result<Figure, HtmlError> {
    let groups = vec![
        "downlink (satellite to ground)".to_string(),
        "inter-satellite links".to_string(),
    ];
    let series: Vec<_> = out
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = &r.figures;
            (
                p.policy.clone(),
                policy_colour(&p.policy, i),
                vec![
                    Some(p.downlink_bytes as f64 / 1e9),
                    Some(p.isl_bytes as f64 / 1e9),
                ],
            )
        })
        .collect();
    let max = series
        .iter()
        .flat_map(|s| s.2.iter().flatten().copied())
        .fold(0f64, f64::max);
    // Headroom for the legend.
    let y_max = if max > 0.0 { max * 1.35 } else { 1.0 };
    let title = "Bytes moved over space links, per policy";
    let (x_label, y_label) = ("link type", "bytes carried (GB)");
    let svg = grouped_bars(title, x_label, y_label, &groups, &series, y_max, &|v| {
        if v >= 100.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    })?;
    Ok(Figure {
        id: "bytes".into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: "Sum over all tasks of bytes sent down satellite-to-ground links and over inter-satellite links (summary.json; 1 GB = 10^9 bytes).".into(),
    })
}

/// Task kinds in the summary, in the simulator's order first.
pub fn kinds_of(out: &Output) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let order = tiandi_workload::TaskKind::ALL.map(|k| k.as_str());
    for r in &out.runs {
        for k in &r.figures.by_kind {
            if !kinds.contains(&k.kind) {
                kinds.push(k.kind.clone());
            }
        }
    }
    kinds.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
    kinds
}

// ---------------------------------------------------------------------------------------
// Heat map and node series

/// Utilisation heat map of the links of one policy: one row per ground node's satellite
/// links (GSL), per data centre's fibre, and the busiest ISL; columns are time bins.
pub fn heatmap_figure(
    out: &Output,
    links: &[LinkSample],
    policy: &str,
    labels: &dyn Fn(u32) -> String,
) -> Result<Option<Figure>, HtmlError> {
    if links.is_empty() {
        return Ok(None);
    }
    let n_sats = out.summary.n_satellites.unwrap_or(0);
    let n_steps = ((out.duration_s() / out.summary.step_s).ceil() as u32).max(1);
    let n_bins = n_steps.min(120);
    let steps_per_bin = n_steps.div_ceil(n_bins);
    let n_bins = n_steps.div_ceil(steps_per_bin);
    // Row keys: (group, node): group 0 ISL, 1 GSL at a ground node, 2 fibre at a node.
    let mut step_max: BTreeMap<((u8, u32), u32), f64> = BTreeMap::new();
    for l in links {
        let mut put = |key: (u8, u32)| {
            let e = step_max.entry((key, l.step)).or_insert(0.0);
            *e = e.max(l.utilisation);
        };
        match l.kind {
            LinkKind::Isl => put((0, 0)),
            LinkKind::Gsl => put((1, l.a.max(l.b))),
            LinkKind::Fibre => {
                for end in [l.a, l.b] {
                    if end >= n_sats + out.summary.n_ground_stations.unwrap_or(0) {
                        put((2, end));
                    }
                }
            }
        }
    }
    let mut cells: BTreeMap<(u8, u32), Vec<f64>> = BTreeMap::new();
    for (&(key, step), &u) in &step_max {
        let row = cells
            .entry(key)
            .or_insert_with(|| vec![0.0; n_bins as usize]);
        let bin = ((step / steps_per_bin) as usize).min(n_bins as usize - 1);
        row[bin] += u / f64::from(steps_per_bin);
    }
    let rows: Vec<((u8, u32), Vec<f64>)> = cells.into_iter().collect();
    let mut names: Vec<String> = rows
        .iter()
        .map(|((g, n), _)| match g {
            0 => "ISL, busiest".to_string(),
            1 => format!("GSL {}", labels(*n)),
            _ => format!("fibre {}", labels(*n)),
        })
        .collect();
    // Category i is drawn at y = i, bottom up: name them in that order.
    names.reverse();
    let hours = out.duration_s() / 3_600.0;
    let bin_h = f64::from(steps_per_bin) * out.summary.step_s / 3_600.0;
    let title = format!("Link utilisation over time ({policy})");
    let (x_label, y_label) = ("time since start (h)", "link group");
    let n_rows = rows.len();
    let height = (140 + 22 * rows.len() as u32).max(300);
    let svg = render(1160, height, |root| {
        let (main, bar) = root.split_horizontally(1060);
        let mut chart = ChartBuilder::on(&main)
            .caption(&title, (FONT, TITLE_PX))
            .margin(10)
            .x_label_area_size(42)
            .y_label_area_size(200)
            .build_cartesian_2d(0f64..hours.max(1e-3), categories(rows.len()))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|v| category_name(&names, *v))
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 13))
            .bold_line_style(grid_bold())
            .light_line_style(TRANSPARENT)
            .draw()?;
        for (r, (_, vals)) in rows.iter().enumerate() {
            // The first row on top.
            let y = (n_rows - 1 - r) as f64;
            chart.draw_series(vals.iter().enumerate().filter(|(_, v)| **v > 0.0).map(
                |(b, v)| {
                    let x0 = b as f64 * bin_h;
                    let c = ViridisRGB.get_color_normalized(v.clamp(0.0, 1.0) as f32, 0.0, 1.0);
                    // Overlap the next cell by a hair: abutting rectangles leave anti-aliased seams.
                    Rectangle::new(
                        [(x0, y - 0.5), ((x0 + bin_h * 1.05).min(hours), y + 0.5)],
                        c.filled(),
                    )
                },
            ))?;
        }
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(44)
            .margin_bottom(52)
            .margin_right(8)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..1f64, 0f64..100f64)?;
        scale
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc("utilisation (%)")
            .label_style((FONT, 12))
            .light_line_style(TRANSPARENT)
            .bold_line_style(TRANSPARENT)
            .draw()?;
        scale.draw_series((0..50).map(|k| {
            let v = f64::from(k) / 50.0;
            Rectangle::new(
                [(0.0, v * 100.0), (1.0, v * 100.0 + 2.0)],
                ViridisRGB
                    .get_color_normalized(v as f32 + 0.01, 0.0, 1.0)
                    .filled(),
            )
        }))?;
        Ok(())
    })?;
    Ok(Some(Figure {
        id: "heatmap".into(),
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: format!(
            "Each cell: the busiest link of the row in each step ({} s), averaged over bins of {} (links output; utilisation = bits carried / capacity x step). Blank: no data carried.",
            out.summary.step_s,
            duration_text(bin_h * 3_600.0)
        ),
    }))
}

/// The most stressed satellite: lowest state of charge reached, then highest temperature.
pub fn most_stressed(nodes: &[NodeSample]) -> Option<u32> {
    let mut worst: BTreeMap<u32, (f32, f32)> = BTreeMap::new();
    for n in nodes {
        let e = worst
            .entry(n.satellite)
            .or_insert((f32::INFINITY, f32::NEG_INFINITY));
        e.0 = e.0.min(n.soc_fraction);
        e.1 = e.1.max(n.temp_k);
    }
    worst
        .into_iter()
        .min_by(|a, b| {
            a.1.0
                .total_cmp(&b.1.0)
                .then(b.1.1.total_cmp(&a.1.1))
                .then(a.0.cmp(&b.0))
        })
        .map(|(s, _)| s)
}

/// One satellite's state of charge, temperature and compute power over time.
pub fn satellite_figure(
    out: &Output,
    nodes: &[NodeSample],
    sat: u32,
    label: &str,
    policy: &str,
    why: &str,
) -> Result<Option<Figure>, HtmlError> {
    let rows: Vec<&NodeSample> = nodes.iter().filter(|n| n.satellite == sat).collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let hours = out.duration_s() / 3_600.0;
    let t = |n: &NodeSample| f64::from(n.step + 1) * out.summary.step_s / 3_600.0;
    let title = format!("Satellite {label} ({policy}): battery, temperature, compute power");
    let x_label = "time since start (h)";
    type Panel = (&'static str, fn(&NodeSample) -> f64, RGBColor);
    let panels: [Panel; 3] = [
        (
            "state of charge (%)",
            |n: &NodeSample| f64::from(n.soc_fraction) * 100.0,
            RGBColor(0x1A, 0x9E, 0x77),
        ),
        (
            "temperature (K)",
            |n: &NodeSample| f64::from(n.temp_k),
            RGBColor(0xC0, 0x39, 0x2B),
        ),
        (
            "compute power (W)",
            |n: &NodeSample| f64::from(n.compute_w),
            RGBColor(0x2E, 0x86, 0xDE),
        ),
    ];
    let svg = render(1160, 720, |root| {
        let root = root.titled(&title, (FONT, TITLE_PX))?;
        let areas = root.split_evenly((3, 1));
        for ((y_desc, f, c), area) in panels.iter().zip(areas.iter()) {
            let vals: Vec<f64> = rows.iter().map(|n| f(n)).collect();
            let (mut lo, mut hi) = vals
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if y_desc.starts_with("state") {
                (lo, hi) = (lo.min(0.0), 100.0);
            }
            let pad = ((hi - lo) * 0.08).max(0.5);
            let mut chart = ChartBuilder::on(area)
                .margin(8)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..hours.max(1e-3), (lo - pad)..(hi + pad))?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(*y_desc)
                .label_style((FONT, 13))
                .bold_line_style(grid_bold())
                .light_line_style(grid_light())
                .draw()?;
            let idx: Vec<usize> = thin(rows.len(), 1_500).collect();
            chart.draw_series(LineSeries::new(
                idx.iter().map(|&k| (t(rows[k]), vals[k])),
                c.stroke_width(2),
            ))?;
        }
        Ok(())
    })?;
    Ok(Some(Figure {
        id: "satellite".into(),
        title,
        x_label: x_label.into(),
        y_label: "state of charge (%); temperature (K); compute power (W)".into(),
        svg,
        caption: format!(
            "{why} State at the end of each {} s step (nodes output).",
            out.summary.step_s
        ),
    }))
}

// ---------------------------------------------------------------------------------------
// Planner

/// A bar chart of named values (one colour per bar), for the planner's mass breakdown.
pub fn mass_figure(items: &[(String, f64)]) -> Result<Figure, HtmlError> {
    let title = "Launch mass breakdown";
    let (x_label, y_label) = ("subsystem", "mass (kg)");
    let max = items.iter().map(|i| i.1).fold(0f64, f64::max);
    let groups: Vec<String> = items.iter().map(|i| i.0.clone()).collect();
    let c = RGBColor(0x2E, 0x86, 0xDE);
    let series = vec![(
        "mass".to_string(),
        c,
        items.iter().map(|i| Some(i.1)).collect(),
    )];
    let svg = grouped_bars(
        title,
        x_label,
        y_label,
        &groups,
        &series,
        if max > 0.0 { max * 1.18 } else { 1.0 },
        &|v| format!("{v:.0}"),
    )?;
    Ok(Figure {
        id: "mass".into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: "Lines M1-M6 of the plan (docs/plan.md); their sum is the launch mass M7.".into(),
    })
}

/// Stacked bars: the cost of the space design and of the ground data centre, by component.
pub fn cost_figure(
    space: &[(String, f64)],
    ground: &[(String, f64)],
    unit: &str,
) -> Result<Figure, HtmlError> {
    let title = "Lifetime cost: in orbit vs a ground data centre";
    let (x_label, y_label) = ("option", format!("cost ({unit})"));
    let total = |v: &[(String, f64)]| v.iter().map(|i| i.1).sum::<f64>();
    let max = total(space).max(total(ground));
    let palette = [
        RGBColor(0x2E, 0x86, 0xDE),
        RGBColor(0xE6, 0x61, 0x00),
        RGBColor(0x1A, 0x9E, 0x77),
        RGBColor(0xB5, 0x65, 0xA7),
        RGBColor(0xC9, 0xA2, 0x27),
        RGBColor(0x7F, 0x7F, 0x7F),
    ];
    let options = ["in orbit".to_string(), "ground data centre".to_string()];
    let svg = render(720, 420, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, TITLE_PX))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(
                categories(2),
                0f64..(if max > 0.0 { max * 1.1 } else { 1.0 }),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| category_name(&options, *v))
            .x_desc(x_label)
            .y_desc(&y_label)
            .label_style((FONT, LABEL_PX))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        let mut k = 0;
        for (col, items) in [space, ground].iter().enumerate() {
            let sum = total(items);
            chart.draw_series(std::iter::once(
                EmptyElement::at((col as f64, sum))
                    + Text::new(
                        format!("{sum:.2}"),
                        (0, -4),
                        TextStyle::from((FONT, 15).into_font())
                            .pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ),
            ))?;
            let mut base = 0.0;
            for (name, v) in items.iter() {
                let c = palette[k % palette.len()];
                k += 1;
                let (a, b) = (base, base + v.max(0.0));
                base = b;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(col as f64 - 0.3, a), (col as f64 + 0.3, b)],
                        c.filled(),
                    )))?
                    .label(name.as_str())
                    .legend(legend_box(c));
            }
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
    })?;
    Ok(Figure {
        id: "cost".into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label,
        svg,
        caption: "In orbit: launch (S1), manufacturing (S2), accelerators (S3). Ground: construction (G2), electricity (G4), accelerators (G5). Totals S4 and G6.".into(),
    })
}

// ---------------------------------------------------------------------------------------
// Latency circles

/// One grid cell of a reach map: its centre (degrees) and value (`None`: no value, grey).
#[derive(Clone, Copy, Debug)]
pub struct ReachCell {
    pub lon: f64,
    pub lat: f64,
    pub value: Option<f64>,
}

/// What a reach map shows.
pub struct ReachMap<'a> {
    pub id: String,
    pub title: String,
    pub caption: String,
    pub cells: &'a [ReachCell],
    /// Cell size, degrees.
    pub cell_deg: f64,
    /// Longitude and latitude ranges drawn.
    pub lon: (f64, f64),
    pub lat: (f64, f64),
    /// Values mapped onto the colour scale, and the scale's title.
    pub range: (f64, f64),
    pub scale_label: String,
    /// Data centres and ground stations to mark.
    pub data_centres: &'a [geo::GroundPoint],
    pub stations: &'a [geo::GroundPoint],
}

/// A map of grid cells coloured by value (viridis) with the ground segment on top.
pub fn reach_map_figure(m: &ReachMap<'_>) -> Result<Figure, HtmlError> {
    let (lo, hi) = m.range;
    let span = (hi - lo).max(1e-12);
    let half = m.cell_deg / 2.0;
    let aspect = ((m.lat.1 - m.lat.0) / (m.lon.1 - m.lon.0).max(1e-9)).clamp(0.3, 1.2);
    let height = (120.0 + 1000.0 * aspect) as u32;
    let svg = render(1160, height, |root| {
        let (main, bar) = root.split_horizontally(1060);
        let mut chart = map_chart(&main, &m.title, m.lon, m.lat, (10, 8))?;
        // Opaque fills: the cells overlap by a hair, and translucent overlaps would show.
        let grey = RGBColor(0xB0, 0xB0, 0xB0).to_rgba();
        chart.draw_series(m.cells.iter().map(|c| {
            let colour = match c.value {
                Some(v) => ViridisRGB
                    .get_color_normalized(((v - lo) / span).clamp(0.0, 1.0) as f32, 0.0, 1.0)
                    .to_rgba(),
                None => grey,
            };
            // Overlap the neighbours: abutting rectangles leave anti-aliased seams.
            Rectangle::new(
                [
                    (c.lon - half * 1.2, c.lat - half * 1.2),
                    (c.lon + half * 1.2, c.lat + half * 1.2),
                ],
                colour.filled(),
            )
        }))?;
        let (land, holes) = geo::land();
        for r in land.iter().chain(holes.iter()) {
            chart.draw_series(std::iter::once(PathElement::new(
                r.clone(),
                GRID.stroke_width(1),
            )))?;
        }
        let st_c = RGBColor(0xC0, 0x39, 0x2B);
        chart
            .draw_series(
                m.stations
                    .iter()
                    .map(|p| TriangleMarker::new((p.lon, p.lat), 6, st_c.filled())),
            )?
            .label("ground station")
            .legend(move |(x, y)| TriangleMarker::new((x + 6, y), 6, st_c.filled()));
        let dc_c = RGBColor(0xFF, 0xFF, 0xFF);
        chart
            .draw_series(m.data_centres.iter().map(|p| {
                EmptyElement::at((p.lon, p.lat))
                    + Rectangle::new([(-5, -5), (5, 5)], dc_c.filled())
                    + Rectangle::new([(-5, -5), (5, 5)], BLACK.stroke_width(2))
            }))?
            .label("data centre")
            .legend(move |(x, y)| {
                Rectangle::new([(x + 1, y - 5), (x + 11, y + 5)], BLACK.stroke_width(2))
            });
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            .label("no value (grey)")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], grey.filled()));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        let mut scale = ChartBuilder::on(&bar)
            .margin_top(44)
            .margin_bottom(52)
            .margin_right(8)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, lo..hi.max(lo + 1e-12))?;
        scale
            .configure_mesh()
            .disable_x_mesh()
            .disable_x_axis()
            .y_desc(m.scale_label.as_str())
            .label_style((FONT, 12))
            .light_line_style(TRANSPARENT)
            .bold_line_style(TRANSPARENT)
            .draw()?;
        scale.draw_series((0..50).map(|k| {
            let f = f64::from(k) / 50.0;
            Rectangle::new(
                [(0.0, lo + f * span), (1.0, lo + (f + 0.021) * span)],
                ViridisRGB
                    .get_color_normalized(f as f32 + 0.01, 0.0, 1.0)
                    .filled(),
            )
        }))?;
        Ok(())
    })?;
    Ok(Figure {
        id: m.id.clone(),
        title: m.title.clone(),
        x_label: MAP_X_LABEL.into(),
        y_label: MAP_Y_LABEL.into(),
        svg,
        caption: m.caption.clone(),
    })
}

// ---------------------------------------------------------------------------------------
// Satellite IoT

/// Delivered IoT messages' latency CDF, from summary.json's percentiles (minutes, log
/// scale; a latency under 1 s is drawn at 1 s).
pub fn iot_latency_figure(iot: &IotFigures) -> Result<Option<Figure>, HtmlError> {
    let q = &iot.latency_percentiles_s;
    if q.len() < 2 {
        return Ok(None);
    }
    let share = if iot.messages_sent == 0 {
        0.0
    } else {
        iot.delivered as f64 / iot.messages_sent as f64
    };
    let pts: Vec<(f64, f64)> = q
        .iter()
        .enumerate()
        .map(|(p, &s)| {
            (
                (s.max(1.0)) / 60.0,
                p as f64 / (q.len() - 1) as f64 * share * 100.0,
            )
        })
        .collect();
    let lo = 10f64.powf((pts[0].0).log10().floor());
    let hi = 10f64
        .powf(pts[pts.len() - 1].0.log10().ceil())
        .max(lo * 10.0);
    let title = "IoT message latency CDF".to_string();
    let (x_label, y_label) = (
        "latency, sent to delivered on the ground (min, log scale)",
        "messages delivered (% of sent)",
    );
    let c = policy_colour("unified", 0);
    let svg = render(720, 400, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, TITLE_PX))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(60)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..100f64)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .x_label_formatter(&|v| format!("{v}"))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        let mut line = pts.clone();
        if let Some(&(_, y)) = pts.last() {
            line.push((hi, y));
        }
        chart.draw_series(LineSeries::new(line, c.stroke_width(2)))?;
        Ok(())
    })?;
    Ok(Some(Figure {
        id: "iot-latency".into(),
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: format!(
            "Share of the {} messages sent that reached a ground station within the latency on the x axis (summary.json, iot.latency_percentiles_s); the curve levels off at the {:.1} % delivered.",
            iot.messages_sent,
            share * 100.0
        ),
    }))
}

/// Messages aboard the whole fleet over the run (summary.json's occupancy series).
pub fn iot_occupancy_figure(iot: &IotFigures) -> Result<Option<Figure>, HtmlError> {
    let occ = &iot.occupancy_messages;
    if occ.len() < 2 {
        return Ok(None);
    }
    let step = iot.occupancy_step_s;
    let t_max = (occ.len() - 1) as f64 * step;
    let y_max = (occ.iter().copied().max().unwrap_or(0) as f64 * 1.1).max(1.0);
    let title = "IoT messages on board, all satellites".to_string();
    let (x_label, y_label) = ("time since start (h:mm)", "messages aboard");
    let c = policy_colour("unified", 0);
    let svg = render(720, 400, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(&title, (FONT, TITLE_PX))
            .margin(10)
            .margin_right(30)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..t_max, 0f64..y_max)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, LABEL_PX))
            .x_label_formatter(&|v| hhmm(*v))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .bold_line_style(grid_bold())
            .light_line_style(grid_light())
            .draw()?;
        chart.draw_series(LineSeries::new(
            occ.iter()
                .enumerate()
                .map(|(k, &n)| (k as f64 * step, n as f64)),
            c.stroke_width(2),
        ))?;
        Ok(())
    })?;
    Ok(Some(Figure {
        id: "iot-occupancy".into(),
        title,
        x_label: x_label.into(),
        y_label: y_label.into(),
        svg,
        caption: format!(
            "Messages taken aboard and not yet downlinked, summed over the satellites, every {step} s (summary.json, iot.occupancy_messages). One satellite held at most {} of its {}.",
            iot.buffer_peak_messages, iot.buffer_messages
        ),
    }))
}

/// One bar per handset (or any named thing), with its value over the bar.
pub fn terminal_bars(
    id: &str,
    title: &str,
    y_label: &str,
    names: &[String],
    values: &[f64],
    caption: &str,
) -> Result<Figure, HtmlError> {
    let y_max = values.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.15;
    let series = vec![(
        String::new(),
        policy_colour("unified", 0),
        values.iter().map(|&v| Some(v)).collect::<Vec<_>>(),
    )];
    let svg = grouped_bars(title, "", y_label, names, &series, y_max, &|v| {
        if v >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    })?;
    Ok(Figure {
        id: id.into(),
        title: title.into(),
        x_label: String::new(),
        y_label: y_label.into(),
        svg,
        caption: caption.into(),
    })
}
