module fhirgate

go 1.26
