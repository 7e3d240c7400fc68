//! `Schedules` on EventBridge Scheduler: one schedule per connection in the stack's group,
//! whose target puts the connection's sync message on the sync queue.

use async_trait::async_trait;
use aws_sdk_scheduler::{
    Client,
    error::DisplayErrorContext,
    types::{FlexibleTimeWindow, FlexibleTimeWindowMode, Target},
};

use crate::lazy::Lazy;
use millwright::{
    ports::{Schedules, StoreError},
    sync::SyncMessage,
};

/// Where schedules go and what they may do.
pub struct SchedulerSchedules {
    client: Lazy<Client>,
    group: String,
    queue_arn: String,
    role_arn: String,
}

/// The schedule expression for every `minutes`.
pub fn every(minutes: u32) -> String {
    if minutes == 1 { "rate(1 minute)".into() } else { format!("rate({minutes} minutes)") }
}

impl SchedulerSchedules {
    /// Schedules in `group` that send to the queue `queue_arn` as the role `role_arn`.
    pub fn new(client: impl Into<Lazy<Client>>, group: String, queue_arn: String, role_arn: String) -> Self {
        Self { client: client.into(), group, queue_arn, role_arn }
    }

    /// What every schedule has: no flexible window, and the target that sends `message`.
    fn parts(&self, message: &SyncMessage) -> Result<(FlexibleTimeWindow, Target), StoreError> {
        let input = serde_json::to_string(message).map_err(|e| StoreError::Backend(format!("encode: {e}")))?;
        let build = |e: aws_sdk_scheduler::error::BuildError| StoreError::Backend(format!("build schedule: {e}"));
        let window = FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().map_err(build)?;
        let target =
            Target::builder().arn(&self.queue_arn).role_arn(&self.role_arn).input(input).build().map_err(build)?;
        Ok((window, target))
    }
}

#[async_trait]
impl Schedules for SchedulerSchedules {
    async fn create(&self, connection_id: &str, minutes: u32, message: &SyncMessage) -> Result<(), StoreError> {
        let (window, target) = self.parts(message)?;
        self.client
            .create_schedule()
            .name(connection_id)
            .group_name(&self.group)
            .schedule_expression(every(minutes))
            .flexible_time_window(window)
            .target(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Backend(format!("create schedule: {}", DisplayErrorContext(e))))
    }

    async fn update(&self, connection_id: &str, minutes: u32, message: &SyncMessage) -> Result<(), StoreError> {
        let (window, target) = self.parts(message)?;
        let sent = self
            .client
            .update_schedule()
            .name(connection_id)
            .group_name(&self.group)
            .schedule_expression(every(minutes))
            .flexible_time_window(window)
            .target(target)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(StoreError::Backend(format!("update schedule: {}", DisplayErrorContext(e)))),
        }
    }

    async fn delete(&self, connection_id: &str) -> Result<(), StoreError> {
        match self.client.delete_schedule().name(connection_id).group_name(&self.group).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(StoreError::Backend(format!("delete schedule: {}", DisplayErrorContext(e)))),
        }
    }
}
