//! The mail templates, compiled into the binary and rendered with minijinja (see the module
//! notes of [`mail`](super)).

use chrono::{DateTime, Duration, Utc};
use forge_application::{
    UnexpectedError,
    mail::{MailMessage, MailTemplates, Notice},
};
use forge_domain::users::Email;
use minijinja::{Environment, UndefinedBehavior, Value, context};
use secrecy::ExposeSecret as _;

/// Every template, by name. `.html` ones are HTML-escaped when rendered; the others are not.
const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("../../templates/mail/layout.html")),
    ("verify_email.subject.txt", include_str!("../../templates/mail/verify_email.subject.txt")),
    ("verify_email.txt", include_str!("../../templates/mail/verify_email.txt")),
    ("verify_email.html", include_str!("../../templates/mail/verify_email.html")),
    ("reset_password.subject.txt", include_str!("../../templates/mail/reset_password.subject.txt")),
    ("reset_password.txt", include_str!("../../templates/mail/reset_password.txt")),
    ("reset_password.html", include_str!("../../templates/mail/reset_password.html")),
    ("password_changed.subject.txt", include_str!("../../templates/mail/password_changed.subject.txt")),
    ("password_changed.txt", include_str!("../../templates/mail/password_changed.txt")),
    ("password_changed.html", include_str!("../../templates/mail/password_changed.html")),
    ("email_changed.subject.txt", include_str!("../../templates/mail/email_changed.subject.txt")),
    ("email_changed.txt", include_str!("../../templates/mail/email_changed.txt")),
    ("email_changed.html", include_str!("../../templates/mail/email_changed.html")),
    ("added_to_project.subject.txt", include_str!("../../templates/mail/added_to_project.subject.txt")),
    ("added_to_project.txt", include_str!("../../templates/mail/added_to_project.txt")),
    ("added_to_project.html", include_str!("../../templates/mail/added_to_project.html")),
];

/// [`MailTemplates`] over the templates in `templates/mail/`.
#[derive(Debug)]
pub struct MailTemplateSet {
    env: Environment<'static>,
    app_name: String,
}

impl MailTemplateSet {
    /// Compiles every template. `app_name` is how the mails name the service.
    ///
    /// # Errors
    /// A template that does not compile (a bug caught at start-up rather than at the first mail).
    pub fn new(app_name: impl Into<String>) -> Result<Self, UnexpectedError> {
        let mut env = Environment::new();
        // A misspelt variable fails loudly instead of vanishing from a mail.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).map_err(UnexpectedError::internal)?;
        }
        Ok(Self { env, app_name: app_name.into() })
    }

    fn render_one(&self, name: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

impl MailTemplates for MailTemplateSet {
    fn render(&self, to: &Email, notice: &Notice) -> Result<MailMessage, UnexpectedError> {
        let app_name = self.app_name.as_str();
        let ctx = match notice {
            Notice::VerifyEmail { username, link, valid_for } | Notice::ResetPassword { username, link, valid_for } => {
                context! { app_name, username, link => link.expose_secret(), valid_for => span(*valid_for) }
            }
            Notice::PasswordChanged { username, at } => context! { app_name, username, at => moment(*at) },
            Notice::EmailChanged { username, new_email, at } => {
                context! { app_name, username, new_email, at => moment(*at) }
            }
            Notice::AddedToProject { username, project_name, role } => {
                context! { app_name, username, project_name, role }
            }
        };
        let name = notice.name();
        let rendered = (|| {
            let subject = self.render_one(&format!("{name}.subject.txt"), &ctx)?;
            let text = self.render_one(&format!("{name}.txt"), &ctx)?;
            let html = self.render_one(&format!("{name}.html"), &ctx)?;
            Ok::<_, minijinja::Error>((subject, text, html))
        })();
        let (subject, text, html) = rendered.map_err(UnexpectedError::internal)?;
        // A subject is one line, whatever the template's line ends.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(MailMessage { to: to.clone(), subject, text, html })
    }
}

/// "24 hours", "1 hour", "30 minutes".
fn span(duration: Duration) -> String {
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if duration.num_minutes() % 60 == 0 && duration.num_hours() > 0 {
        plural(duration.num_hours(), "hour")
    } else {
        plural(duration.num_minutes().max(1), "minute")
    }
}

/// "2026-11-23 10:15 UTC".
fn moment(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn templates() -> MailTemplateSet {
        MailTemplateSet::new("Forge").unwrap()
    }

    fn ada() -> Email {
        Email::parse("ada@example.com").unwrap()
    }

    #[test]
    fn every_notice_renders_a_subject_a_text_and_an_html_part() {
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let link = || SecretString::from("https://app.example.com/verify-email?token=abc");
        for notice in [
            Notice::VerifyEmail { username: "ada".into(), link: link(), valid_for: Duration::hours(24) },
            Notice::ResetPassword { username: "ada".into(), link: link(), valid_for: Duration::hours(1) },
            Notice::PasswordChanged { username: "ada".into(), at },
            Notice::EmailChanged { username: "ada".into(), new_email: "ada@new.example.com".into(), at },
            Notice::AddedToProject { username: "ada".into(), project_name: "Apollo".into(), role: "member".into() },
        ] {
            let message = templates().render(&ada(), &notice).unwrap();
            assert_eq!(message.to, ada());
            assert!(message.subject.contains("Forge") && !message.subject.contains('\n'), "{}", message.subject);
            assert!(message.text.contains("Hello ada,"), "{}", message.text);
            assert!(message.html.starts_with("<!DOCTYPE html>") && message.html.contains("Hello ada,"));
        }
    }

    #[test]
    fn links_and_lifetimes_appear_in_both_parts() {
        let notice = Notice::ResetPassword {
            username: "ada".into(),
            link: SecretString::from("https://app.example.com/reset-password?token=T0k3n"),
            valid_for: Duration::hours(1),
        };
        let message = templates().render(&ada(), &notice).unwrap();
        assert_eq!(message.subject, "Reset your Forge password");
        assert!(message.text.contains("\nhttps://app.example.com/reset-password?token=T0k3n\n"), "{}", message.text);
        // Escaped in HTML (`/` as `&#x2f;`), which a browser reads back as the same link.
        let escaped = "https:&#x2f;&#x2f;app.example.com&#x2f;reset-password?token=T0k3n";
        assert!(message.html.contains(&format!("href=\"{escaped}\"")), "{}", message.html);
        for part in [&message.text, &message.html] {
            assert!(part.contains("expires in 1 hour."), "{part}");
        }
    }

    #[test]
    fn html_is_escaped_and_plain_text_is_not() {
        let notice = Notice::EmailChanged {
            username: "ada".into(),
            new_email: "<script>alert(1)</script>&co".into(),
            at: DateTime::from_timestamp(0, 0).unwrap(),
        };
        let message = templates().render(&ada(), &notice).unwrap();
        assert!(message.html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;&amp;co"), "{}", message.html);
        assert!(!message.html.contains("<script>"));
        assert!(message.text.contains("<script>alert(1)</script>&co"));
    }

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(Duration::hours(24)), "24 hours");
        assert_eq!(span(Duration::hours(1)), "1 hour");
        assert_eq!(span(Duration::minutes(30)), "30 minutes");
        assert_eq!(span(Duration::seconds(20)), "1 minute");
    }
}
