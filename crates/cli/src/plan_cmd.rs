//! `tiandi plan` (placeholder until node physics lands).

#[derive(clap::Args)]
pub struct PlanArgs {}

pub fn plan(_args: PlanArgs) -> anyhow::Result<()> {
    anyhow::bail!("`tiandi plan` is not built yet")
}
