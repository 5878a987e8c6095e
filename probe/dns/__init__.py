"""DNS: the only place resolvers are built; MX walk and lookups, failures as values."""
