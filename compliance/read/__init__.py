"""Library layer: what readers of the results database see: results, search and the HTML
report. Reads the database, opens it read-only, imports no stage."""
