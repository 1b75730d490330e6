from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourceRef(_message.Message):
    __slots__ = ("tenant", "namespace", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    namespace: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., namespace: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("healthy", "version")
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    healthy: bool
    version: str
    def __init__(self, healthy: _Optional[bool] = ..., version: _Optional[str] = ...) -> None: ...

class ReadinessRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadinessResponse(_message.Message):
    __slots__ = ("ready", "store", "detail")
    READY_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    store: str
    detail: str
    def __init__(self, ready: _Optional[bool] = ..., store: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("payload", "headers")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    def __init__(self, payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StreamMessage(_message.Message):
    __slots__ = ("partition", "offset", "payload", "headers", "timestamp_ms")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    timestamp_ms: int
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., timestamp_ms: _Optional[int] = ...) -> None: ...

class WriteRequest(_message.Message):
    __slots__ = ("stream", "events", "partition")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    events: _containers.RepeatedCompositeFieldContainer[Event]
    partition: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., partition: _Optional[int] = ...) -> None: ...

class WriteResponse(_message.Message):
    __slots__ = ("offsets", "partitions")
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.RepeatedScalarFieldContainer[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, offsets: _Optional[_Iterable[int]] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class ReadRequest(_message.Message):
    __slots__ = ("stream", "partition", "offset", "max_messages")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    partition: int
    offset: int
    max_messages: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., max_messages: _Optional[int] = ...) -> None: ...

class ReadResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[StreamMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[StreamMessage, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("stream", "consumer_group", "partition", "start_offset", "max_batch")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    consumer_group: str
    partition: int
    start_offset: int
    max_batch: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., start_offset: _Optional[int] = ..., max_batch: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("messages",)
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[StreamMessage]
    def __init__(self, messages: _Optional[_Iterable[_Union[StreamMessage, _Mapping]]] = ...) -> None: ...

class CommitOffsetRequest(_message.Message):
    __slots__ = ("stream", "consumer_group", "partition", "offset")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    consumer_group: str
    partition: int
    offset: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class CommitOffsetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetOffsetRequest(_message.Message):
    __slots__ = ("stream", "consumer_group", "partition")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    consumer_group: str
    partition: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class GetOffsetResponse(_message.Message):
    __slots__ = ("offset",)
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    offset: int
    def __init__(self, offset: _Optional[int] = ...) -> None: ...

class GetLatestOffsetRequest(_message.Message):
    __slots__ = ("stream", "partition")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    partition: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., partition: _Optional[int] = ...) -> None: ...

class GetLatestOffsetResponse(_message.Message):
    __slots__ = ("offset",)
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    offset: int
    def __init__(self, offset: _Optional[int] = ...) -> None: ...

class GetConsumerGroupStateRequest(_message.Message):
    __slots__ = ("stream", "consumer_group", "partition")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    consumer_group: str
    partition: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class ConsumerGroupState(_message.Message):
    __slots__ = ("consumer_group", "partition", "committed_offset", "latest_offset", "lag")
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LATEST_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    consumer_group: str
    partition: int
    committed_offset: int
    latest_offset: int
    lag: int
    def __init__(self, consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., committed_offset: _Optional[int] = ..., latest_offset: _Optional[int] = ..., lag: _Optional[int] = ...) -> None: ...

class ConfigureStreamRequest(_message.Message):
    __slots__ = ("stream", "partitions", "retention_max_messages", "retention_max_age_ms")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    stream: ResourceRef
    partitions: int
    retention_max_messages: int
    retention_max_age_ms: int
    def __init__(self, stream: _Optional[_Union[ResourceRef, _Mapping]] = ..., partitions: _Optional[int] = ..., retention_max_messages: _Optional[int] = ..., retention_max_age_ms: _Optional[int] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("partitions", "retention_max_messages", "retention_max_age_ms")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    partitions: int
    retention_max_messages: int
    retention_max_age_ms: int
    def __init__(self, partitions: _Optional[int] = ..., retention_max_messages: _Optional[int] = ..., retention_max_age_ms: _Optional[int] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "seq", "payload", "headers", "attempts", "enqueued_at_ms", "visible_at_ms", "original_queue", "failed_at_ms", "last_error")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ENQUEUED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_AT_MS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_QUEUE_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    seq: int
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    attempts: int
    enqueued_at_ms: int
    visible_at_ms: int
    original_queue: str
    failed_at_ms: int
    last_error: str
    def __init__(self, id: _Optional[str] = ..., seq: _Optional[int] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., attempts: _Optional[int] = ..., enqueued_at_ms: _Optional[int] = ..., visible_at_ms: _Optional[int] = ..., original_queue: _Optional[str] = ..., failed_at_ms: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class EnqueueRequest(_message.Message):
    __slots__ = ("queue", "payload", "headers", "delay_ms", "dedup_id")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    DEDUP_ID_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    delay_ms: int
    dedup_id: str
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., delay_ms: _Optional[int] = ..., dedup_id: _Optional[str] = ...) -> None: ...

class EnqueueResponse(_message.Message):
    __slots__ = ("job_id", "seq", "duplicate")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    seq: int
    duplicate: bool
    def __init__(self, job_id: _Optional[str] = ..., seq: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("queue", "visibility_timeout_ms", "long_poll_timeout_ms")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    visibility_timeout_ms: int
    long_poll_timeout_ms: int
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., visibility_timeout_ms: _Optional[int] = ..., long_poll_timeout_ms: _Optional[int] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: Job
    def __init__(self, job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ReceiveRequest(_message.Message):
    __slots__ = ("queue", "max_jobs", "visibility_timeout_ms", "long_poll_timeout_ms")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    max_jobs: int
    visibility_timeout_ms: int
    long_poll_timeout_ms: int
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., max_jobs: _Optional[int] = ..., visibility_timeout_ms: _Optional[int] = ..., long_poll_timeout_ms: _Optional[int] = ...) -> None: ...

class ReceiveResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class AckRequest(_message.Message):
    __slots__ = ("queue", "job_id")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    job_id: str
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class AckResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ItemStatus(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class EnqueueBatchRequest(_message.Message):
    __slots__ = ("queue", "jobs")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    jobs: _containers.RepeatedCompositeFieldContainer[EnqueueRequest]
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[EnqueueRequest, _Mapping]]] = ...) -> None: ...

class EnqueueBatchResponse(_message.Message):
    __slots__ = ("jobs", "statuses")
    JOBS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[EnqueueResponse]
    statuses: _containers.RepeatedCompositeFieldContainer[ItemStatus]
    def __init__(self, jobs: _Optional[_Iterable[_Union[EnqueueResponse, _Mapping]]] = ..., statuses: _Optional[_Iterable[_Union[ItemStatus, _Mapping]]] = ...) -> None: ...

class AckBatchRequest(_message.Message):
    __slots__ = ("queue", "job_ids")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AckBatchResponse(_message.Message):
    __slots__ = ("statuses",)
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedCompositeFieldContainer[ItemStatus]
    def __init__(self, statuses: _Optional[_Iterable[_Union[ItemStatus, _Mapping]]] = ...) -> None: ...

class NackRequest(_message.Message):
    __slots__ = ("queue", "job_id", "delay_ms", "error")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    job_id: str
    delay_ms: int
    error: str
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., job_id: _Optional[str] = ..., delay_ms: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class NackResponse(_message.Message):
    __slots__ = ("dead_lettered",)
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    dead_lettered: bool
    def __init__(self, dead_lettered: _Optional[bool] = ...) -> None: ...

class GetStatsRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("pending_jobs", "delayed_jobs", "in_flight_jobs", "dlq_jobs", "completed_jobs", "failed_jobs", "oldest_pending_age_ms")
    PENDING_JOBS_FIELD_NUMBER: _ClassVar[int]
    DELAYED_JOBS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_JOBS_FIELD_NUMBER: _ClassVar[int]
    DLQ_JOBS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_JOBS_FIELD_NUMBER: _ClassVar[int]
    FAILED_JOBS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_PENDING_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    pending_jobs: int
    delayed_jobs: int
    in_flight_jobs: int
    dlq_jobs: int
    completed_jobs: int
    failed_jobs: int
    oldest_pending_age_ms: int
    def __init__(self, pending_jobs: _Optional[int] = ..., delayed_jobs: _Optional[int] = ..., in_flight_jobs: _Optional[int] = ..., dlq_jobs: _Optional[int] = ..., completed_jobs: _Optional[int] = ..., failed_jobs: _Optional[int] = ..., oldest_pending_age_ms: _Optional[int] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_backoff_ms", "max_backoff_ms", "backoff_multiplier", "jitter")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_backoff_ms: int
    max_backoff_ms: int
    backoff_multiplier: float
    jitter: float
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff_ms: _Optional[int] = ..., max_backoff_ms: _Optional[int] = ..., backoff_multiplier: _Optional[float] = ..., jitter: _Optional[float] = ...) -> None: ...

class SetRetryPolicyRequest(_message.Message):
    __slots__ = ("queue", "policy")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    policy: RetryPolicy
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., policy: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...

class GetRetryPolicyRequest(_message.Message):
    __slots__ = ("queue",)
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ...) -> None: ...

class ListDLQJobsRequest(_message.Message):
    __slots__ = ("queue", "limit")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    limit: int
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDLQJobsResponse(_message.Message):
    __slots__ = ("jobs",)
    JOBS_FIELD_NUMBER: _ClassVar[int]
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class ReplayDLQJobRequest(_message.Message):
    __slots__ = ("queue", "job_id")
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    queue: ResourceRef
    job_id: str
    def __init__(self, queue: _Optional[_Union[ResourceRef, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class SetRequest(_message.Message):
    __slots__ = ("store", "key", "value", "ttl_ms")
    STORE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    store: ResourceRef
    key: str
    value: bytes
    ttl_ms: int
    def __init__(self, store: _Optional[_Union[ResourceRef, _Mapping]] = ..., key: _Optional[str] = ..., value: _Optional[bytes] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class SetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("store", "key")
    STORE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    store: ResourceRef
    key: str
    def __init__(self, store: _Optional[_Union[ResourceRef, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    def __init__(self, value: _Optional[bytes] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("store", "key")
    STORE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    store: ResourceRef
    key: str
    def __init__(self, store: _Optional[_Union[ResourceRef, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class ExistsRequest(_message.Message):
    __slots__ = ("store", "key")
    STORE_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    store: ResourceRef
    key: str
    def __init__(self, store: _Optional[_Union[ResourceRef, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("exists",)
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    def __init__(self, exists: _Optional[bool] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("store", "prefix", "limit", "page_token")
    STORE_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    store: ResourceRef
    prefix: str
    limit: int
    page_token: str
    def __init__(self, store: _Optional[_Union[ResourceRef, _Mapping]] = ..., prefix: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys", "next_page_token")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, keys: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
