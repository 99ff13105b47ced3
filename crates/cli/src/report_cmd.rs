//! `tiandi report DIR [--node N]`: (re)builds DIR/report.html from the files `tiandi
//! simulate --out DIR` wrote. The page is made by `tiandi_html::write_report`, the same
//! function `tiandi simulate` calls.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

/// Flags of `tiandi report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Output directory of `tiandi simulate` (holding summary.json).
    dir: PathBuf,
    /// Satellite for the battery/temperature/compute figure, by index or name [the most
    /// stressed one: lowest state of charge reached].
    #[arg(long, value_name = "N")]
    node: Option<String>,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let options = tiandi_html::ReportOptions { node: args.node };
    let path = tiandi_html::write_report(&args.dir, &options)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
