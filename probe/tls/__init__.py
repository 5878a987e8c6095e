"""Transport security: certificates, DANE, MTA-STS and TLS-RPT, and when each check runs."""
