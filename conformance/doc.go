// Package conformance describes what this server implements, to clients and conformance suites: the
// CapabilityStatement (generated from the REST route table, so that it cannot claim what is not routed)
// and, with the tokens work, the SMART configuration.
package conformance
