//! The dashboard's counts: one aggregate query per table, soft-deleted rows left out.

use chrono::Duration;
use forge_application::projects::ProjectChange;
use forge_application::users::UserChange;
use forge_application::{common::UnitOfWork, dashboard::ports::StatsSource};
use forge_domain::{
    projects::{NewProject, Project, ProjectName, ProjectStatus},
    users::Role,
};
use forge_infrastructure::SeaStatsSource;

use crate::common::{Harness, Tweak, t0, tweaked, user_at};

#[tokio::test]
async fn users_are_counted_by_state_role_and_age_without_the_deleted() {
    let h = Harness::new().await;
    let old = user_at("old@example.com", "old", -Duration::days(30));
    let admin = tweaked(
        &user_at("admin@example.com", "admin", -Duration::days(3)),
        Tweak { role: Role::Admin, ..Tweak::default() },
    );
    let inactive = tweaked(
        &user_at("off@example.com", "off", -Duration::hours(2)),
        Tweak { is_active: false, ..Tweak::default() },
    );
    let fresh = user_at("fresh@example.com", "fresh", Duration::zero());
    let deleted = tweaked(
        &user_at("gone@example.com", "gone", Duration::zero()),
        Tweak { role: Role::Admin, deleted_at: Some(t0()), ..Tweak::default() },
    );
    h.uow.commit([old, admin, inactive, fresh, deleted].into_iter().map(UserChange::Insert).collect()).await.unwrap();
    let source = SeaStatsSource::new(&h.database);

    let counts = source.user_counts(t0() - Duration::hours(1), t0() - Duration::days(7)).await.unwrap();

    assert_eq!(counts.total, 4);
    assert_eq!(counts.active, 3);
    assert_eq!(counts.inactive(), 1);
    assert_eq!(counts.admins, 1, "the deleted admin does not count");
    assert_eq!(counts.new_today, 1, "at or after the start of the day");
    assert_eq!(counts.new_week, 3);
}

#[tokio::test]
async fn an_empty_installation_counts_zero_everywhere() {
    let h = Harness::new().await;
    let source = SeaStatsSource::new(&h.database);

    let counts = source.user_counts(t0(), t0()).await.unwrap();

    assert_eq!((counts.total, counts.active, counts.admins, counts.new_today, counts.new_week), (0, 0, 0, 0, 0));
    let projects = source.project_counts().await.unwrap();
    assert_eq!((projects.total, projects.active), (0, 0));
}

#[tokio::test]
async fn projects_are_counted_by_status_without_the_deleted() {
    let h = Harness::new().await;
    let owner = user_at("owner@example.com", "owner", Duration::zero());
    h.uow.commit(changes![UserChange::Insert(owner.clone())]).await.unwrap();
    for (name, archived, deleted) in [("a", false, false), ("b", false, false), ("c", true, false), ("d", false, true)]
    {
        let new = NewProject { name: ProjectName::parse(name).unwrap(), description: None };
        let (mut project, membership) = Project::create(owner.id(), new, t0());
        if archived {
            project.set_status(ProjectStatus::Archived, t0()).unwrap();
        }
        if deleted {
            project.soft_delete(t0()).unwrap();
        }
        h.uow.commit(changes![ProjectChange::Insert(project), ProjectChange::AddMember(membership)]).await.unwrap();
    }
    let source = SeaStatsSource::new(&h.database);

    let counts = source.project_counts().await.unwrap();

    assert_eq!((counts.total, counts.active), (3, 2));
}
