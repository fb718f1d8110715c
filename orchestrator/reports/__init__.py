"""Reports (DESIGN 11): a school year of attendance and preparation at a glance, per site, per
region and in total, summed from the per-site results written when each record is frozen."""
