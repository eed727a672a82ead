//! `kloset-host plakar` serving `importer.Importer` as Plakar drives it: the
//! executable spawned with pipes, `Init`, an `Import` stream acknowledged
//! record by record, then concurrent `Open`s of every file and xattr record,
//! against every S3 server of the test bed.

use std::collections::HashMap;

use kloset_plakar_proto::importer::importer_client::ImporterClient;
use kloset_plakar_proto::importer::{ImportRequest, InitRequest, OpenRequest};
use kloset_plakar_proto::plakar::connectors::{Record, Result as RecordResult};
use kloset_plakar_proto::plugin::Plugin;
use kloset_plakar_proto::tonic::transport::Channel;
use kloset_plakar_proto::tonic::Code;
use kloset_s3::request::Method;
use kloset_s3_tests::{data, servers, unique_bucket};
use tokio::sync::mpsc;

type Client = ImporterClient<Channel>;

/// Every record of an Import, each acknowledged as Plakar does.
async fn import(client: &mut Client) -> Vec<Record> {
    let (acks, receiver) = mpsc::channel::<ImportRequest>(16);
    let requests = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|ack| (ack, receiver))
    });
    let mut responses = client.import(requests).await.unwrap().into_inner();
    let mut records = Vec::new();
    while let Some(response) = responses.message().await.unwrap() {
        if response.finished {
            break;
        }
        let record = response.record.expect("a record");
        let ack = ImportRequest {
            result: Some(RecordResult {
                header: Some(record.clone()),
                error: String::new(),
            }),
        };
        acks.send(ack).await.unwrap();
        records.push(record);
    }
    drop(acks);
    records
}

async fn open(mut client: Client, record: Record) -> Result<Vec<u8>, Code> {
    let request = OpenRequest {
        record: Some(record),
    };
    let mut chunks = client
        .open(request)
        .await
        .map_err(|s| s.code())?
        .into_inner();
    let mut out = Vec::new();
    while let Some(message) = chunks.message().await.map_err(|s| s.code())? {
        out.extend_from_slice(&message.chunk);
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread")]
async fn plakar_backs_up_a_bucket_through_the_importer_service() {
    for server in servers().await {
        let name = server.name;
        let bucket = unique_bucket("plakar-import");
        assert_eq!(
            server
                .raw(Method::Put, &format!("/{bucket}"), &[], &[], b"")
                .await
                .status,
            200
        );
        let mut expected: HashMap<String, Vec<u8>> = HashMap::new();
        for i in 0..12u64 {
            let key = format!("dir {}/object-{i}.bin", i % 3);
            let body = data(i, (i as usize) * 150_000);
            let headers: &[(&str, &str)] = if i == 1 {
                &[
                    ("content-type", "text/plain"),
                    ("x-amz-meta-colour", "blue"),
                ]
            } else {
                &[]
            };
            let r = server
                .raw(
                    Method::Put,
                    &format!("/{bucket}/{key}"),
                    &[],
                    headers,
                    &body,
                )
                .await;
            assert_eq!(r.status, 200, "{name}: {}", r.text());
            expected.insert(format!("/{key}"), body);
        }
        let bad = server
            .raw(
                Method::Put,
                &format!("/{bucket}/bad\u{1}key"),
                &[],
                &[],
                b"x",
            )
            .await;
        assert_eq!(bad.status, 200, "{name}");

        let plugin = Plugin::spawn(env!("CARGO_BIN_EXE_kloset-host"), &["plakar"], false)
            .await
            .expect("the plugin starts");
        let mut client = plugin.importer();
        let init = InitRequest {
            options: None,
            proto: "s3".into(),
            config: server.config(&bucket, "", &[]).into_iter().collect(),
        };
        let reply = client.init(init).await.unwrap().into_inner();
        assert_eq!(
            (reply.r#type.as_str(), reply.root),
            ("s3", format!("/{bucket}"))
        );

        let records = import(&mut client).await;
        let failures: Vec<&Record> = records.iter().filter(|r| !r.error.is_empty()).collect();
        assert_eq!(failures.len(), 1, "{name}: {failures:?}");
        assert!(
            failures[0].error.contains("not a valid path"),
            "{name}: {failures:?}"
        );
        let files: Vec<&Record> = records
            .iter()
            .filter(|r| r.has_reader && !r.is_xattr)
            .collect();
        assert_eq!(files.len(), expected.len(), "{name}");
        let described = files
            .iter()
            .find(|r| r.pathname == "/dir 1/object-1.bin")
            .unwrap();
        assert!(
            described
                .extended_attributes
                .contains(&"s3.meta.colour".to_owned()),
            "{name}: {described:?}"
        );

        // Every file and xattr opened at once, as Plakar's workers do.
        let opens = records
            .iter()
            .filter(|r| r.has_reader)
            .map(|r| tokio::spawn(open(client.clone(), r.clone())));
        let read = futures::future::join_all(opens).await;
        let readers: Vec<&Record> = records.iter().filter(|r| r.has_reader).collect();
        for (record, bytes) in readers.iter().zip(read) {
            let bytes = bytes
                .unwrap()
                .unwrap_or_else(|c| panic!("{name}: {record:?}: {c}"));
            if record.is_xattr {
                if record.xattr_name == "s3.meta.colour" {
                    assert_eq!(bytes, b"blue", "{name}");
                }
            } else {
                assert!(
                    bytes == expected[&record.pathname],
                    "{name}: {} differs",
                    record.pathname
                );
                let size = record.file_info.as_ref().unwrap().size;
                assert_eq!(size as usize, bytes.len(), "{name}");
            }
        }
        // A record read already, or never imported, is refused.
        let again = open(client.clone(), files[0].clone()).await;
        assert_eq!(again, Err(Code::NotFound), "{name}");
        drop(client);
        assert!(plugin.finish().await.unwrap().success(), "{name}");
        eprintln!("{name}: Plakar-style import of {} records", records.len());
    }
}
