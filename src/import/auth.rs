//! The auth skeleton: one commented-out `auth:` block per security scheme of
//! the document, ready to copy into a workflow.
//!
//! | scheme | block |
//! |---|---|
//! | apiKey in header / query | `- {name: <name>, in: header\|query, value: "{{ env.<APP>_API_KEY }}"}` |
//! | http bearer | `Authorization: Bearer {{ env.<APP>_TOKEN }}` |
//! | http basic | `Authorization: Basic {{ (env.<APP>_USER ~ ':' ~ env.<APP>_PASSWORD) \| b64encode }}` |
//! | oauth2, openIdConnect | a Descope outbound app (`descope: {app_id, user_id}`), or a bearer token from the environment |
//! | apiKey in a cookie, other http schemes | a note: runner cannot send them |
//!
//! `<APP>` is the app name upper-cased; with several apiKey schemes each
//! variable carries its scheme's name instead: `<APP>_<SCHEME>` when the
//! name says `key` or `token` already (`apiKeyHeader` → `<APP>_API_KEY_HEADER`),
//! else `<APP>_<SCHEME>_API_KEY`.

use super::error::ImportError;
use super::names;
use super::schema::Resolver;
use super::yaml;
use openapiv3::{APIKeyLocation, OAuth2Flows, OpenAPI, SecurityScheme};

/// Comment lines (without `# `) describing the auth of `app`; empty when the
/// document declares no security scheme.
pub(super) fn skeleton(
    doc: &OpenAPI,
    resolver: &Resolver<'_>,
    app: &str,
    stem: &str,
) -> Result<Vec<String>, ImportError> {
    let Some(components) = &doc.components else {
        return Ok(Vec::new());
    };
    let mut schemes = Vec::new();
    for (name, scheme) in &components.security_schemes {
        schemes.push((name.as_str(), resolver.security_scheme(scheme)?));
    }
    if schemes.is_empty() {
        return Ok(Vec::new());
    }
    let api_keys = schemes
        .iter()
        .filter(|(_, s)| matches!(s, SecurityScheme::APIKey { .. }))
        .count();
    let app_key = yaml::string(app);
    let mut lines = vec![
        "Auth: the security schemes of the document. Pick one, put it in your".to_string(),
        "workflow and set its environment variables.".to_string(),
    ];
    for (name, scheme) in schemes {
        lines.push(String::new());
        let block = |lines: &mut Vec<String>, parameter: String| {
            lines.push("  auth:".into());
            lines.push(format!("    {app_key}:"));
            lines.push("      parameters:".into());
            lines.push(format!("        - {parameter}"));
        };
        let bearer = format!(
            "{{name: Authorization, in: header, value: \"Bearer {{{{ env.{stem}_TOKEN }}}}\"}}"
        );
        match scheme {
            SecurityScheme::APIKey {
                location,
                name: key_name,
                ..
            } => {
                let scheme = names::upper_snake(name);
                let var = if api_keys == 1 {
                    format!("{stem}_API_KEY")
                } else if scheme.contains("KEY") || scheme.contains("TOKEN") {
                    format!("{stem}_{scheme}")
                } else {
                    format!("{stem}_{scheme}_API_KEY")
                };
                let place = match location {
                    APIKeyLocation::Header => "header",
                    APIKeyLocation::Query => "query",
                    APIKeyLocation::Cookie => {
                        lines.push(format!(
                            "  # {name}: an API key in the `{key_name}` cookie, which runner cannot send"
                        ));
                        continue;
                    }
                };
                lines.push(format!("  # {name}: an API key in the `{key_name}` {place}"));
                block(
                    &mut lines,
                    format!(
                        "{{name: {}, in: {place}, value: \"{{{{ env.{var} }}}}\"}}",
                        yaml::string(key_name)
                    ),
                );
            }
            SecurityScheme::HTTP {
                scheme: http,
                bearer_format,
                ..
            } => match http.to_ascii_lowercase().as_str() {
                "bearer" => {
                    let format = bearer_format
                        .as_deref()
                        .map(|f| format!(" ({f})"))
                        .unwrap_or_default();
                    lines.push(format!("  # {name}: an HTTP bearer token{format}"));
                    block(&mut lines, bearer);
                }
                "basic" => {
                    lines.push(format!("  # {name}: HTTP basic auth"));
                    block(
                        &mut lines,
                        format!(
                            "{{name: Authorization, in: header, value: \"Basic {{{{ (env.{stem}_USER ~ ':' ~ env.{stem}_PASSWORD) | b64encode }}}}\"}}"
                        ),
                    );
                }
                other => lines.push(format!(
                    "  # {name}: HTTP `{other}` auth, which runner cannot compute; send the `Authorization` header yourself"
                )),
            },
            SecurityScheme::OAuth2 { flows, .. } => {
                lines.push(format!("  # {name}: OAuth2 ({})", describe_flows(flows)));
                oauth(&mut lines, &app_key, app, &bearer);
            }
            SecurityScheme::OpenIDConnect {
                open_id_connect_url,
                ..
            } => {
                lines.push(format!("  # {name}: OpenID Connect ({open_id_connect_url})"));
                oauth(&mut lines, &app_key, app, &bearer);
            }
        }
    }
    Ok(lines)
}

/// The two ways to send an OAuth2 token.
fn oauth(lines: &mut Vec<String>, app_key: &str, app: &str, bearer: &str) {
    lines.push("  # the users' tokens kept in a Descope outbound app (its id in Descope):".into());
    lines.push("  auth:".into());
    lines.push(format!("    {app_key}:"));
    lines.push(format!(
        "      descope: {{app_id: {}, user_id: \"{{{{ vars.user_id }}}}\"}}",
        yaml::string(app)
    ));
    lines.push("  # or a token obtained some other way, from the environment:".into());
    lines.push("  #   parameters:".into());
    lines.push(format!("  #     - {bearer}"));
}

/// `authorizationCode, clientCredentials; scopes: a, b`.
fn describe_flows(flows: &OAuth2Flows) -> String {
    let all = [
        (
            "authorizationCode",
            flows.authorization_code.as_ref().map(|f| &f.scopes),
        ),
        (
            "clientCredentials",
            flows.client_credentials.as_ref().map(|f| &f.scopes),
        ),
        ("implicit", flows.implicit.as_ref().map(|f| &f.scopes)),
        ("password", flows.password.as_ref().map(|f| &f.scopes)),
    ];
    let mut kinds = Vec::new();
    let mut scopes: Vec<&str> = Vec::new();
    for (kind, flow_scopes) in all {
        let Some(flow_scopes) = flow_scopes else {
            continue;
        };
        kinds.push(kind);
        for scope in flow_scopes.keys() {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
    }
    let mut text = if kinds.is_empty() {
        "no flows".to_string()
    } else {
        kinds.join(", ")
    };
    match scopes.len() {
        0 => {}
        1..=8 => text.push_str(&format!("; scopes: {}", scopes.join(", "))),
        n => text.push_str(&format!("; {n} scopes, e.g. {}", scopes[..4].join(", "))),
    }
    text
}
