"""The Excel files the office prints and sends back.

- :mod:`~bazhou.core.xlsx.writer`: the streaming .xlsx writer and the printed tables;
- :mod:`~bazhou.core.xlsx.downloads`: a file handed out, written to the export log;
- :mod:`~bazhou.core.xlsx.reader`: upload checks, reading cells, marking bad cells;
- :mod:`~bazhou.core.xlsx.importing`: the preview and row base every import shares;
- :mod:`~bazhou.core.xlsx.import_views`: upload → preview → confirm pages of any import.

Which area an export covers is a question about areas: :mod:`villages.areas`.
"""
