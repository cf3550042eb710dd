//! Killing the service mid-pipeline and starting it again completes every order, with the
//! sandbox issuer's records as the witness that none was issued twice.
