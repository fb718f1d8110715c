"""The directory: regions, sites, coordinators, leader groups and booking policies, as a file."""
