//! `tiandi topology` and `tiandi routes` (placeholder until the network layer lands).

#[derive(clap::Args)]
pub struct TopologyArgs {}

#[derive(clap::Args)]
pub struct RoutesArgs {}

pub fn topology(_args: TopologyArgs) -> anyhow::Result<()> {
    anyhow::bail!("`tiandi topology` is not built yet")
}

pub fn routes(_args: RoutesArgs) -> anyhow::Result<()> {
    anyhow::bail!("`tiandi routes` is not built yet")
}
