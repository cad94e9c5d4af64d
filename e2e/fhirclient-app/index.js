// The app: once authorized, it reads the patient in context. With a short-lived access token and a
// refresh token, fhirclient refreshes the token before the read (it refreshes a token that expires
// within seconds). The page shows what happened as JSON for the test to read.
window.addEventListener('DOMContentLoaded', () => {
  const out = document.getElementById('out');
  FHIR.oauth2.ready().then(async (client) => {
    const first = { ...client.state.tokenResponse };
    const result = {
      patientId: client.patient.id,
      encounterId: client.encounter.id,
      hasRefreshToken: Boolean(first.refresh_token),
      expiresIn: first.expires_in,
      needPatientBanner: first.need_patient_banner,
      scope: first.scope,
    };
    const patient = await client.patient.read();
    result.patientFamily = patient.name && patient.name[0] && patient.name[0].family;
    const after = client.state.tokenResponse;
    result.refreshed = after.access_token !== first.access_token;
    result.refreshTokenRotated = Boolean(after.refresh_token) && after.refresh_token !== first.refresh_token;
    out.textContent = JSON.stringify(result);
    out.dataset.state = 'done';
  }).catch((e) => {
    out.textContent = String(e && e.message ? e.message : e);
    out.dataset.state = 'error';
  });
});
