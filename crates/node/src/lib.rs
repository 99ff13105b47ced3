//! Node physics: payload, power, thermal, radiation (in progress).
