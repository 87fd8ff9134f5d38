//! One HTTP request of a webhook: [`Request`], its [`Header`]s and [`HttpMethod`].

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::{API_VERSION_V1BETA1, Template};

/// One HTTP request of a webhook (the v1beta1 form).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    /// The URL, a template.
    pub url: Template,
    /// The HTTP method.
    pub method: HttpMethod,
    /// Headers; values are templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<Header>,
    /// The body, a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Template>,
    /// Extra curl options Keptn appended to its curl command (e.g. `--insecure`). Read and
    /// written back; a sender that cannot honour them should refuse the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
}

impl Request {
    /// The templates of this request: URL, header values, payload.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        std::iter::once(&self.url)
            .chain(self.headers.iter().map(|h| &h.value))
            .chain(self.payload.iter())
    }
}

#[derive(Deserialize)]
struct RequestFields {
    url: Template,
    method: HttpMethod,
    #[serde(default)]
    headers: Vec<Header>,
    #[serde(default)]
    payload: Option<Template>,
    #[serde(default)]
    options: Option<String>,
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RequestVisitor;
        impl<'de> Visitor<'de> for RequestVisitor {
            type Value = Request;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a request {url, method, headers, payload}")
            }
            fn visit_str<E: de::Error>(self, _v: &str) -> Result<Request, E> {
                Err(E::custom(format!(
                    "this request is a curl command string, the v1alpha1 form, which is not \
                     supported: write it as {{url, method, headers, payload}} under apiVersion: \
                     {API_VERSION_V1BETA1}"
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Request, A::Error> {
                let f = RequestFields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Request {
                    url: f.url,
                    method: f.method,
                    headers: f.headers,
                    payload: f.payload,
                    options: f.options,
                })
            }
        }
        deserializer.deserialize_any(RequestVisitor)
    }
}

/// One request header; the value is a template (e.g. `Bearer {{.env.token}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The header name.
    pub key: String,
    /// The header value, a template.
    pub value: Template,
}

/// The HTTP methods a webhook request may use (`keptn/spec` `webhook.md`). Read
/// case-insensitively, written in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// The method in upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HttpMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(HttpMethod::Get),
            "POST" => Ok(HttpMethod::Post),
            "PUT" => Ok(HttpMethod::Put),
            "PATCH" => Ok(HttpMethod::Patch),
            "DELETE" => Ok(HttpMethod::Delete),
            _ => Err(format!(
                "unsupported HTTP method `{s}`: expected one of GET, POST, PUT, PATCH, DELETE"
            )),
        }
    }
}

impl TryFrom<String> for HttpMethod {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<HttpMethod> for String {
    fn from(m: HttpMethod) -> Self {
        m.as_str().to_owned()
    }
}
