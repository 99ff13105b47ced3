//! Network layer: links, topology snapshots and routing (in progress).
