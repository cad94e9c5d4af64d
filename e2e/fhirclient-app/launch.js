// The launch page of a SMART app built on fhirclient (the SMART JS client). fhirclient reads iss (and,
// for an EHR launch, launch) from this page's URL, discovers the endpoints from the server's
// smart-configuration and sends the browser to the authorization endpoint with PKCE S256.
const ehr = new URLSearchParams(location.search).has('launch');
FHIR.oauth2.authorize({
  clientId: 'e2e-fhirclient',
  scope: ehr ? 'launch openid fhirUser patient/*.rs' : 'launch/patient openid fhirUser offline_access patient/*.rs',
  redirectUri: 'index.html',
  pkceMode: 'required',
});
