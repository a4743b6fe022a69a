"""The record layer for WARC/WET files, shared by the WET and WARC readers, one idea per
module: ``read_errors`` (what ends a file's reading), ``gzip_members`` (whole-file
decompression), ``utf8`` (the strict per-file check), ``body_lines`` (record bodies as
bounded lines), ``strict_warcio`` (warcio, made strict and bounded), ``record_loop``
(records → pages, bad input counted)."""
