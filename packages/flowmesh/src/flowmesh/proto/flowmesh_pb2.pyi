from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResourcePath(_message.Message):
    __slots__ = ("tenant", "namespace", "resource_type", "name")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    namespace: str
    resource_type: str
    name: str
    def __init__(self, tenant: _Optional[str] = ..., namespace: _Optional[str] = ..., resource_type: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message", "details")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    details: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., details: _Optional[str] = ...) -> None: ...

class HealthCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthCheckResponse(_message.Message):
    __slots__ = ("status", "server_version")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    status: Status
    server_version: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., server_version: _Optional[str] = ...) -> None: ...

class ReadinessCheckRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReadinessCheckResponse(_message.Message):
    __slots__ = ("status", "ready", "store", "detail")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    status: Status
    ready: bool
    store: str
    detail: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., ready: _Optional[bool] = ..., store: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

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

class Message(_message.Message):
    __slots__ = ("id", "resource_path", "partition", "offset", "payload", "headers", "created_at", "schema_version")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    id: str
    resource_path: str
    partition: int
    offset: int
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    created_at: int
    schema_version: int
    def __init__(self, id: _Optional[str] = ..., resource_path: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[int] = ..., schema_version: _Optional[int] = ...) -> None: ...

class WriteEventsRequest(_message.Message):
    __slots__ = ("resource_path", "events", "partition", "producer_id", "producer_seq")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_SEQ_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    events: _containers.RepeatedCompositeFieldContainer[Event]
    partition: int
    producer_id: str
    producer_seq: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., partition: _Optional[int] = ..., producer_id: _Optional[str] = ..., producer_seq: _Optional[int] = ...) -> None: ...

class WriteEventsResponse(_message.Message):
    __slots__ = ("status", "offsets", "partitions")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    offsets: _containers.RepeatedScalarFieldContainer[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., offsets: _Optional[_Iterable[int]] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class ReadStreamRequest(_message.Message):
    __slots__ = ("resource_path", "partition", "offset", "max_messages", "start_time", "max_bytes")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    partition: int
    offset: int
    max_messages: int
    start_time: int
    max_bytes: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., max_messages: _Optional[int] = ..., start_time: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class ReadStreamResponse(_message.Message):
    __slots__ = ("status", "messages", "next_offset")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    status: Status
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    next_offset: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., next_offset: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("resource_path", "consumer_group", "partition", "start_offset", "max_batch", "start_time")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    consumer_group: str
    partition: int
    start_offset: int
    max_batch: int
    start_time: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., start_offset: _Optional[int] = ..., max_batch: _Optional[int] = ..., start_time: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("message", "status", "messages")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    message: Message
    status: Status
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ...) -> None: ...

class CommitOffsetRequest(_message.Message):
    __slots__ = ("resource_path", "consumer_group", "partition", "offset")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    consumer_group: str
    partition: int
    offset: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class CommitOffsetResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class GetOffsetRequest(_message.Message):
    __slots__ = ("resource_path", "consumer_group", "partition")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    consumer_group: str
    partition: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class GetOffsetResponse(_message.Message):
    __slots__ = ("status", "offset")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    status: Status
    offset: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., offset: _Optional[int] = ...) -> None: ...

class GetLatestOffsetRequest(_message.Message):
    __slots__ = ("resource_path", "partition")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    partition: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., partition: _Optional[int] = ...) -> None: ...

class GetLatestOffsetResponse(_message.Message):
    __slots__ = ("status", "offset")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    status: Status
    offset: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., offset: _Optional[int] = ...) -> None: ...

class ConsumerGroupState(_message.Message):
    __slots__ = ("stream", "group", "partition", "committed_offset", "latest_offset", "lag")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LATEST_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LAG_FIELD_NUMBER: _ClassVar[int]
    stream: str
    group: str
    partition: int
    committed_offset: int
    latest_offset: int
    lag: int
    def __init__(self, stream: _Optional[str] = ..., group: _Optional[str] = ..., partition: _Optional[int] = ..., committed_offset: _Optional[int] = ..., latest_offset: _Optional[int] = ..., lag: _Optional[int] = ...) -> None: ...

class GetConsumerGroupStateRequest(_message.Message):
    __slots__ = ("resource_path", "consumer_group", "partition")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    consumer_group: str
    partition: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., consumer_group: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class GetConsumerGroupStateResponse(_message.Message):
    __slots__ = ("status", "state")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    status: Status
    state: ConsumerGroupState
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., state: _Optional[_Union[ConsumerGroupState, _Mapping]] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("partitions", "retention_max_messages", "retention_max_age_ms")
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RETENTION_MAX_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    partitions: int
    retention_max_messages: int
    retention_max_age_ms: int
    def __init__(self, partitions: _Optional[int] = ..., retention_max_messages: _Optional[int] = ..., retention_max_age_ms: _Optional[int] = ...) -> None: ...

class ConfigureStreamRequest(_message.Message):
    __slots__ = ("resource_path", "config")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    config: StreamConfig
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., config: _Optional[_Union[StreamConfig, _Mapping]] = ...) -> None: ...

class ConfigureStreamResponse(_message.Message):
    __slots__ = ("status", "config")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    status: Status
    config: StreamConfig
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., config: _Optional[_Union[StreamConfig, _Mapping]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "resource_path", "seq", "payload", "headers", "created_at", "visible_at", "reserve_until", "attempts", "original_queue", "failed_at", "last_error")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_AT_FIELD_NUMBER: _ClassVar[int]
    RESERVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_QUEUE_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    resource_path: str
    seq: int
    payload: bytes
    headers: _containers.ScalarMap[str, str]
    created_at: int
    visible_at: int
    reserve_until: int
    attempts: int
    original_queue: str
    failed_at: int
    last_error: str
    def __init__(self, id: _Optional[str] = ..., resource_path: _Optional[str] = ..., seq: _Optional[int] = ..., payload: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[int] = ..., visible_at: _Optional[int] = ..., reserve_until: _Optional[int] = ..., attempts: _Optional[int] = ..., original_queue: _Optional[str] = ..., failed_at: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class EnqueueRequest(_message.Message):
    __slots__ = ("resource_path", "payload", "delay_seconds", "headers", "delay_ms", "dedup_id", "producer_id", "producer_seq")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    DEDUP_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_SEQ_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    payload: bytes
    delay_seconds: int
    headers: _containers.ScalarMap[str, str]
    delay_ms: int
    dedup_id: str
    producer_id: str
    producer_seq: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., payload: _Optional[bytes] = ..., delay_seconds: _Optional[int] = ..., headers: _Optional[_Mapping[str, str]] = ..., delay_ms: _Optional[int] = ..., dedup_id: _Optional[str] = ..., producer_id: _Optional[str] = ..., producer_seq: _Optional[int] = ...) -> None: ...

class EnqueueResponse(_message.Message):
    __slots__ = ("status", "job_id", "seq", "duplicate")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    status: Status
    job_id: str
    seq: int
    duplicate: bool
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., job_id: _Optional[str] = ..., seq: _Optional[int] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("resource_path", "visibility_timeout_seconds", "long_poll_timeout_seconds", "visibility_timeout_ms", "long_poll_timeout_ms")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    visibility_timeout_seconds: int
    long_poll_timeout_seconds: int
    visibility_timeout_ms: int
    long_poll_timeout_ms: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., visibility_timeout_seconds: _Optional[int] = ..., long_poll_timeout_seconds: _Optional[int] = ..., visibility_timeout_ms: _Optional[int] = ..., long_poll_timeout_ms: _Optional[int] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("status", "job")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    status: Status
    job: Job
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., job: _Optional[_Union[Job, _Mapping]] = ...) -> None: ...

class ReceiveRequest(_message.Message):
    __slots__ = ("resource_path", "max_jobs", "visibility_timeout_seconds", "long_poll_timeout_seconds", "visibility_timeout_ms", "long_poll_timeout_ms")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    VISIBILITY_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    LONG_POLL_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    max_jobs: int
    visibility_timeout_seconds: int
    long_poll_timeout_seconds: int
    visibility_timeout_ms: int
    long_poll_timeout_ms: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., max_jobs: _Optional[int] = ..., visibility_timeout_seconds: _Optional[int] = ..., long_poll_timeout_seconds: _Optional[int] = ..., visibility_timeout_ms: _Optional[int] = ..., long_poll_timeout_ms: _Optional[int] = ...) -> None: ...

class ReceiveResponse(_message.Message):
    __slots__ = ("status", "jobs")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ...) -> None: ...

class ACKRequest(_message.Message):
    __slots__ = ("resource_path", "job_id")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    job_id: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class ACKResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class NACKRequest(_message.Message):
    __slots__ = ("resource_path", "job_id", "delay_seconds", "delay_ms", "error")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DELAY_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    job_id: str
    delay_seconds: int
    delay_ms: int
    error: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., job_id: _Optional[str] = ..., delay_seconds: _Optional[int] = ..., delay_ms: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class NACKResponse(_message.Message):
    __slots__ = ("status", "dead_lettered")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_FIELD_NUMBER: _ClassVar[int]
    status: Status
    dead_lettered: bool
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., dead_lettered: _Optional[bool] = ...) -> None: ...

class QueueStats(_message.Message):
    __slots__ = ("total_jobs", "pending_jobs", "in_flight_jobs", "completed_jobs", "failed_jobs", "oldest_job_age_seconds", "delayed_jobs", "dlq_jobs", "oldest_job_age_ms")
    TOTAL_JOBS_FIELD_NUMBER: _ClassVar[int]
    PENDING_JOBS_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_JOBS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_JOBS_FIELD_NUMBER: _ClassVar[int]
    FAILED_JOBS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_JOB_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    DELAYED_JOBS_FIELD_NUMBER: _ClassVar[int]
    DLQ_JOBS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_JOB_AGE_MS_FIELD_NUMBER: _ClassVar[int]
    total_jobs: int
    pending_jobs: int
    in_flight_jobs: int
    completed_jobs: int
    failed_jobs: int
    oldest_job_age_seconds: int
    delayed_jobs: int
    dlq_jobs: int
    oldest_job_age_ms: int
    def __init__(self, total_jobs: _Optional[int] = ..., pending_jobs: _Optional[int] = ..., in_flight_jobs: _Optional[int] = ..., completed_jobs: _Optional[int] = ..., failed_jobs: _Optional[int] = ..., oldest_job_age_seconds: _Optional[int] = ..., delayed_jobs: _Optional[int] = ..., dlq_jobs: _Optional[int] = ..., oldest_job_age_ms: _Optional[int] = ...) -> None: ...

class GetQueueStatsRequest(_message.Message):
    __slots__ = ("resource_path",)
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ...) -> None: ...

class GetQueueStatsResponse(_message.Message):
    __slots__ = ("status", "stats")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    stats: QueueStats
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., stats: _Optional[_Union[QueueStats, _Mapping]] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_attempts", "initial_backoff_seconds", "max_backoff_seconds", "backoff_multiplier", "backoff_strategy", "initial_backoff_ms", "max_backoff_ms", "jitter")
    MAX_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BACKOFF_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_MULTIPLIER_FIELD_NUMBER: _ClassVar[int]
    BACKOFF_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    INITIAL_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_BACKOFF_MS_FIELD_NUMBER: _ClassVar[int]
    JITTER_FIELD_NUMBER: _ClassVar[int]
    max_attempts: int
    initial_backoff_seconds: int
    max_backoff_seconds: int
    backoff_multiplier: float
    backoff_strategy: str
    initial_backoff_ms: int
    max_backoff_ms: int
    jitter: float
    def __init__(self, max_attempts: _Optional[int] = ..., initial_backoff_seconds: _Optional[int] = ..., max_backoff_seconds: _Optional[int] = ..., backoff_multiplier: _Optional[float] = ..., backoff_strategy: _Optional[str] = ..., initial_backoff_ms: _Optional[int] = ..., max_backoff_ms: _Optional[int] = ..., jitter: _Optional[float] = ...) -> None: ...

class SetRetryPolicyRequest(_message.Message):
    __slots__ = ("resource_path", "policy")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    policy: RetryPolicy
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., policy: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...

class SetRetryPolicyResponse(_message.Message):
    __slots__ = ("status", "policy")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    status: Status
    policy: RetryPolicy
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., policy: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...

class GetRetryPolicyRequest(_message.Message):
    __slots__ = ("resource_path",)
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ...) -> None: ...

class GetRetryPolicyResponse(_message.Message):
    __slots__ = ("status", "policy")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    status: Status
    policy: RetryPolicy
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., policy: _Optional[_Union[RetryPolicy, _Mapping]] = ...) -> None: ...

class ListDLQJobsRequest(_message.Message):
    __slots__ = ("resource_path", "max_jobs", "page_token")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    max_jobs: int
    page_token: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., max_jobs: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDLQJobsResponse(_message.Message):
    __slots__ = ("status", "jobs", "next_page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: Status
    jobs: _containers.RepeatedCompositeFieldContainer[Job]
    next_page_token: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[Job, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReplayDLQJobRequest(_message.Message):
    __slots__ = ("resource_path", "job_id")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    job_id: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., job_id: _Optional[str] = ...) -> None: ...

class ReplayDLQJobResponse(_message.Message):
    __slots__ = ("status", "job_id", "seq")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    status: Status
    job_id: str
    seq: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., job_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class EnqueueBatchRequest(_message.Message):
    __slots__ = ("resource_path", "jobs")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    jobs: _containers.RepeatedCompositeFieldContainer[EnqueueRequest]
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[EnqueueRequest, _Mapping]]] = ...) -> None: ...

class EnqueueBatchResponse(_message.Message):
    __slots__ = ("status", "results")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    results: _containers.RepeatedCompositeFieldContainer[EnqueueResponse]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., results: _Optional[_Iterable[_Union[EnqueueResponse, _Mapping]]] = ...) -> None: ...

class AckBatchRequest(_message.Message):
    __slots__ = ("resource_path", "job_ids")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    JOB_IDS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    job_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., job_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class AckBatchResponse(_message.Message):
    __slots__ = ("status", "results")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    results: _containers.RepeatedCompositeFieldContainer[Status]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., results: _Optional[_Iterable[_Union[Status, _Mapping]]] = ...) -> None: ...

class SetRequest(_message.Message):
    __slots__ = ("resource_path", "key", "value", "ttl_seconds", "ttl_ms")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TTL_MS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    key: str
    value: bytes
    ttl_seconds: int
    ttl_ms: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., key: _Optional[str] = ..., value: _Optional[bytes] = ..., ttl_seconds: _Optional[int] = ..., ttl_ms: _Optional[int] = ...) -> None: ...

class SetResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("resource_path", "key")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    key: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class GetResponse(_message.Message):
    __slots__ = ("status", "value")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    status: Status
    value: bytes
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., value: _Optional[bytes] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("resource_path", "key")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    key: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("status", "deleted")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    status: Status
    deleted: bool
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ExistsRequest(_message.Message):
    __slots__ = ("resource_path", "key")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    key: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class ExistsResponse(_message.Message):
    __slots__ = ("status", "exists")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    exists: bool
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., exists: _Optional[bool] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("resource_path", "prefix", "limit", "page_token")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    prefix: str
    limit: int
    page_token: str
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., prefix: _Optional[str] = ..., limit: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("status", "keys", "next_page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: Status
    keys: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., keys: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("id", "type", "version", "definition", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    version: int
    definition: bytes
    created_at: int
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[bytes] = ..., created_at: _Optional[int] = ...) -> None: ...

class RegisterSchemaRequest(_message.Message):
    __slots__ = ("tenant", "schema_id", "schema_type", "version", "definition")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_TYPE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    schema_id: str
    schema_type: str
    version: int
    definition: bytes
    def __init__(self, tenant: _Optional[str] = ..., schema_id: _Optional[str] = ..., schema_type: _Optional[str] = ..., version: _Optional[int] = ..., definition: _Optional[bytes] = ...) -> None: ...

class RegisterSchemaResponse(_message.Message):
    __slots__ = ("status", "version")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    status: Status
    version: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class GetSchemaRequest(_message.Message):
    __slots__ = ("tenant", "schema_id", "version")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    schema_id: str
    version: int
    def __init__(self, tenant: _Optional[str] = ..., schema_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetSchemaResponse(_message.Message):
    __slots__ = ("status", "schema")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    status: Status
    schema: Schema
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., schema: _Optional[_Union[Schema, _Mapping]] = ...) -> None: ...

class ListSchemasRequest(_message.Message):
    __slots__ = ("tenant", "schema_id")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    schema_id: str
    def __init__(self, tenant: _Optional[str] = ..., schema_id: _Optional[str] = ...) -> None: ...

class ListSchemasResponse(_message.Message):
    __slots__ = ("status", "schemas")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    schemas: _containers.RepeatedCompositeFieldContainer[Schema]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., schemas: _Optional[_Iterable[_Union[Schema, _Mapping]]] = ...) -> None: ...

class DeleteSchemaRequest(_message.Message):
    __slots__ = ("tenant", "schema_id", "version")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    schema_id: str
    version: int
    def __init__(self, tenant: _Optional[str] = ..., schema_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DeleteSchemaResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class SetResourceSchemaRequest(_message.Message):
    __slots__ = ("resource_path", "schema_id", "version", "detach")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DETACH_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    schema_id: str
    version: int
    detach: bool
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., schema_id: _Optional[str] = ..., version: _Optional[int] = ..., detach: _Optional[bool] = ...) -> None: ...

class SetResourceSchemaResponse(_message.Message):
    __slots__ = ("status", "version")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    status: Status
    version: int
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ReplaySession(_message.Message):
    __slots__ = ("session_id", "stream", "partition", "start_offset", "start_timestamp", "end_offset", "end_timestamp", "sandbox_consumer_group", "status", "progress", "created_at", "updated_at", "max_messages_per_second")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    START_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    stream: str
    partition: int
    start_offset: int
    start_timestamp: int
    end_offset: int
    end_timestamp: int
    sandbox_consumer_group: str
    status: str
    progress: ReplayProgress
    created_at: int
    updated_at: int
    max_messages_per_second: int
    def __init__(self, session_id: _Optional[str] = ..., stream: _Optional[str] = ..., partition: _Optional[int] = ..., start_offset: _Optional[int] = ..., start_timestamp: _Optional[int] = ..., end_offset: _Optional[int] = ..., end_timestamp: _Optional[int] = ..., sandbox_consumer_group: _Optional[str] = ..., status: _Optional[str] = ..., progress: _Optional[_Union[ReplayProgress, _Mapping]] = ..., created_at: _Optional[int] = ..., updated_at: _Optional[int] = ..., max_messages_per_second: _Optional[int] = ...) -> None: ...

class ReplayProgress(_message.Message):
    __slots__ = ("current_offset", "messages_replayed", "errors", "started_at", "paused_at", "completed_at")
    CURRENT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PAUSED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    current_offset: int
    messages_replayed: int
    errors: int
    started_at: int
    paused_at: int
    completed_at: int
    def __init__(self, current_offset: _Optional[int] = ..., messages_replayed: _Optional[int] = ..., errors: _Optional[int] = ..., started_at: _Optional[int] = ..., paused_at: _Optional[int] = ..., completed_at: _Optional[int] = ...) -> None: ...

class CreateReplaySessionRequest(_message.Message):
    __slots__ = ("resource_path", "start_offset", "start_timestamp", "end_offset", "end_timestamp", "sandbox_consumer_group", "partition", "max_messages_per_second")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    START_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_CONSUMER_GROUP_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    start_offset: int
    start_timestamp: int
    end_offset: int
    end_timestamp: int
    sandbox_consumer_group: str
    partition: int
    max_messages_per_second: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., start_offset: _Optional[int] = ..., start_timestamp: _Optional[int] = ..., end_offset: _Optional[int] = ..., end_timestamp: _Optional[int] = ..., sandbox_consumer_group: _Optional[str] = ..., partition: _Optional[int] = ..., max_messages_per_second: _Optional[int] = ...) -> None: ...

class CreateReplaySessionResponse(_message.Message):
    __slots__ = ("status", "session")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    status: Status
    session: ReplaySession
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., session: _Optional[_Union[ReplaySession, _Mapping]] = ...) -> None: ...

class GetReplaySessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetReplaySessionResponse(_message.Message):
    __slots__ = ("status", "session")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    status: Status
    session: ReplaySession
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., session: _Optional[_Union[ReplaySession, _Mapping]] = ...) -> None: ...

class ListReplaySessionsRequest(_message.Message):
    __slots__ = ("resource_path",)
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ...) -> None: ...

class ListReplaySessionsResponse(_message.Message):
    __slots__ = ("status", "sessions")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    sessions: _containers.RepeatedCompositeFieldContainer[ReplaySession]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., sessions: _Optional[_Iterable[_Union[ReplaySession, _Mapping]]] = ...) -> None: ...

class StartReplayRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class StartReplayResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class PauseReplayRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class PauseReplayResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class ResumeReplayRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ResumeReplayResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class StopReplayRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class StopReplayResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class DeleteReplaySessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteReplaySessionResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ...) -> None: ...

class ListResourcesFilter(_message.Message):
    __slots__ = ("tenant", "namespace")
    TENANT_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    tenant: str
    namespace: str
    def __init__(self, tenant: _Optional[str] = ..., namespace: _Optional[str] = ...) -> None: ...

class StreamInfo(_message.Message):
    __slots__ = ("resource_path", "config", "latest_offsets", "messages")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    LATEST_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    config: StreamConfig
    latest_offsets: _containers.RepeatedScalarFieldContainer[int]
    messages: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., config: _Optional[_Union[StreamConfig, _Mapping]] = ..., latest_offsets: _Optional[_Iterable[int]] = ..., messages: _Optional[int] = ...) -> None: ...

class ListStreamsRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: ListResourcesFilter
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[ListResourcesFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListStreamsResponse(_message.Message):
    __slots__ = ("status", "streams", "next_page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: Status
    streams: _containers.RepeatedCompositeFieldContainer[StreamInfo]
    next_page_token: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., streams: _Optional[_Iterable[_Union[StreamInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListConsumerGroupsRequest(_message.Message):
    __slots__ = ("resource_path",)
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ...) -> None: ...

class ListConsumerGroupsResponse(_message.Message):
    __slots__ = ("status", "groups")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    status: Status
    groups: _containers.RepeatedCompositeFieldContainer[ConsumerGroupState]
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., groups: _Optional[_Iterable[_Union[ConsumerGroupState, _Mapping]]] = ...) -> None: ...

class QueueInfo(_message.Message):
    __slots__ = ("resource_path", "stats")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    stats: QueueStats
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., stats: _Optional[_Union[QueueStats, _Mapping]] = ...) -> None: ...

class ListQueuesRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: ListResourcesFilter
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[ListResourcesFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListQueuesResponse(_message.Message):
    __slots__ = ("status", "queues", "next_page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: Status
    queues: _containers.RepeatedCompositeFieldContainer[QueueInfo]
    next_page_token: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., queues: _Optional[_Iterable[_Union[QueueInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class KVStoreInfo(_message.Message):
    __slots__ = ("resource_path", "keys")
    RESOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    resource_path: ResourcePath
    keys: int
    def __init__(self, resource_path: _Optional[_Union[ResourcePath, _Mapping]] = ..., keys: _Optional[int] = ...) -> None: ...

class ListKVStoresRequest(_message.Message):
    __slots__ = ("filter", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: ListResourcesFilter
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[ListResourcesFilter, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListKVStoresResponse(_message.Message):
    __slots__ = ("status", "stores", "next_page_token")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STORES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    status: Status
    stores: _containers.RepeatedCompositeFieldContainer[KVStoreInfo]
    next_page_token: str
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., stores: _Optional[_Iterable[_Union[KVStoreInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
