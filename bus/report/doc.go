// Package report builds the statistics reports of R7 from the store's
// rollups (store.StatsStore): documents sent and received, confirmed,
// failed and expired, bytes and request→confirmation times (p50/p95) per
// unit, system, route or data type, for a period, optionally split by day,
// month, quarter or year. It never reads raw exchanges or payloads, so a
// report over a year of traffic reads a few thousand rollup rows.
//
// Formats: a text table, CSV and XLSX (github.com/xuri/excelize/v2), with
// Vietnamese headings and the province's usual layout: the issuing body
// and national motto, a title, the period, the lines and a totals line.
package report
