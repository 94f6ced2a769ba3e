// Package ngspsim simulates NGSP (WSO2 API Manager) for tests: POST /token
// with client credentials (HTTP Basic consumerKey:consumerSecret,
// grant_type=client_credentials) answering an opaque access_token,
// token_type Bearer, expires_in and scope "am_application_scope default"
// (docs/gateways.md, ref gateways.md §1.2), and a protected sample REST
// service GET /dmdc/1.0/AllCategory that wants Authorization: Bearer.
package ngspsim
