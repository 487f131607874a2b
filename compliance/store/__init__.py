"""Library layer: the results database: its one writer, migrations, the run lock, run rows,
reviews and the generated schema documentation."""
