//! The template loader (`e2e_tests::template`) on small templates: the
//! `AWS::LanguageExtensions` subset it expands, and what it refuses.

use e2e_tests::template::*;

fn yaml(s: &str) -> Yaml {
    serde_norway::from_str(s).unwrap()
}

#[test]
fn a_for_each_makes_one_resource_per_item() {
    let t = parse(
        "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n\
         Resources:\n  \
           Table: {Type: AWS::DynamoDB::Table}\n  \
           Fn::ForEach::Logs:\n    \
             - Name\n    \
             - [PublicKey, SendMail]\n    \
             - ${Name}Logs:\n        \
                 Type: AWS::Logs::LogGroup\n        \
                 Properties:\n          \
                   LogGroupName: !Sub /aws/lambda/${AWS::StackName}-${Name}\n          \
                   Tags: [{Key: fn, Value: !Ref Name}, {Key: t, Value: !Ref Table}]\n          \
                   Arn: !GetAtt ${Name}Function.Arn\n          \
                   Listed: !GetAtt [!Sub '${Name}Role', Arn]\n          \
                   Dimension: !Ref {'Fn::Sub': '${Name}Function'}\n          \
                   Note: the ${Name} logs\n",
    );
    let ids: Vec<&str> = t["Resources"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(ids, ["Table", "PublicKeyLogs", "SendMailLogs"]);
    let p = &t["Resources"]["SendMailLogs"]["Properties"];
    assert_eq!(
        p["LogGroupName"],
        yaml("!Sub /aws/lambda/${AWS::StackName}-SendMail")
    );
    assert_eq!(
        p["Tags"],
        yaml("[{Key: fn, Value: SendMail}, {Key: t, Value: !Ref Table}]")
    );
    assert_eq!(get_att(&p["Arn"]), Some(("SendMailFunction", "Arn")));
    assert_eq!(get_att(&p["Listed"]), Some(("SendMailRole", "Arn")));
    assert_eq!(ref_to(&p["Dimension"]), Some("SendMailFunction"));
    assert_eq!(p["Note"], yaml("the SendMail logs"));
    assert_eq!(
        t["Resources"]["PublicKeyLogs"]["Properties"]["Tags"][0]["Value"],
        yaml("PublicKey")
    );
}

#[test]
fn nested_loops_see_both_items_and_the_inner_one_wins() {
    let t = parse(
        "Mappings:\n  \
           Inner: {x: {Items: [x1, x2]}, y: {Items: [y1, y2]}}\n\
         Outputs:\n  \
           Fn::ForEach::Outer:\n    \
             - A\n    \
             - [x, y]\n    \
             - Fn::ForEach::Inner:\n        \
                 - B\n        \
                 - !FindInMap [Inner, !Ref A, Items]\n        \
                 - ${B}Out:\n            \
                     Value: !Sub '${A}-${B}'\n            \
                     Shadowed: !Sub ['${B}', {B: !Ref Own}]\n  \
           Fn::ForEach::Keys:\n    \
             - A\n    \
             - [a-b.c]\n    \
             - Key&{A}: {Value: !Ref A}\n  \
           Props:\n    \
             Value:\n      \
               Fn::ForEach::InProperties: [P, [p], {'${P}': [{Ref: P}, {Fn::GetAtt: [X, Arn]}]}]\n",
    );
    let o = t["Outputs"].as_mapping().unwrap();
    let keys: Vec<&str> = o.keys().filter_map(Yaml::as_str).collect();
    assert_eq!(
        keys,
        ["x1Out", "x2Out", "y1Out", "y2Out", "Keyabc", "Props"]
    );
    assert_eq!(o["y2Out"]["Value"], yaml("!Sub 'y-y2'"));
    assert_eq!(o["x1Out"]["Shadowed"], yaml("!Sub ['${B}', {B: !Ref Own}]"));
    assert_eq!(o["Keyabc"]["Value"], yaml("a-b.c"));
    assert_eq!(o["Props"]["Value"], yaml("{p: [p, !GetAtt X.Arn]}"));
}

#[test]
fn find_in_map_is_read_once_its_keys_are_known() {
    let t = parse(
        "Mappings:\n  \
           Fns:\n    \
             Hash: {Memory: 1769}\n    \
             Plain: {Memory: 1024, Timeout: 5}\n  \
           Levels: {info: {Application: INFO}}\n\
         Resources:\n  \
           Fn::ForEach::Fns:\n    \
             - F\n    \
             - [Hash, Plain]\n    \
             - ${F}Function:\n        \
                 Properties:\n          \
                   MemorySize: !FindInMap [Fns, !Ref F, Memory]\n          \
                   Timeout: !FindInMap [Fns, !Ref F, Timeout, {DefaultValue: 10}]\n          \
                   Level: !FindInMap [Levels, !Ref LogLevel, Application]\n          \
                   Static: !FindInMap [Levels, info, Application]\n",
    );
    let hash = &t["Resources"]["HashFunction"]["Properties"];
    let plain = &t["Resources"]["PlainFunction"]["Properties"];
    assert_eq!(hash["MemorySize"].as_u64(), Some(1769));
    assert_eq!(plain["MemorySize"].as_u64(), Some(1024));
    assert_eq!(hash["Timeout"].as_u64(), Some(10), "the default");
    assert_eq!(plain["Timeout"].as_u64(), Some(5));
    assert_eq!(
        hash["Level"],
        yaml("!FindInMap [Levels, !Ref LogLevel, Application]"),
        "a parameter's key is the deployment's"
    );
    assert_eq!(hash["Static"], yaml("INFO"));
}

#[test]
fn sub_templates_take_the_item_in_both_forms() {
    let t = parse(
        "Resources:\n  \
           Fn::ForEach::R:\n    \
             - Name\n    \
             - [create-session]\n    \
             - R:\n        \
                 One: !Sub ${AWS::StackName}-${Name}\n        \
                 Two: !Sub ['${Name}:${X}', {X: !Ref Name}]\n        \
                 Three: !Sub ['${Name}-${T}', {T: !Ref Table}]\n        \
                 Escaped: !Sub '${!Name}'\n",
    );
    let r = &t["Resources"]["R"];
    assert_eq!(
        sub_template(&r["One"]),
        Some("${AWS::StackName}-create-session")
    );
    assert_eq!(
        sub_template(&r["Two"]),
        Some("create-session:create-session"),
        "a variable that is then a plain string is written in"
    );
    assert_eq!(
        r["Three"],
        yaml("!Sub ['create-session-${T}', {T: !Ref Table}]")
    );
    assert_eq!(sub_template(&r["Escaped"]), Some("${!Name}"));
}

#[test]
fn a_template_without_extensions_reads_as_written() {
    let text = "Resources:\n  A:\n    Type: X\n    Properties:\n      \
                P: !If [C, !Ref B, !Ref AWS::NoValue]\n      Q: !GetAtt B.Arn\n      \
                S: !Sub '${B}-${AWS::Region}'\n      L: !FindInMap [M, !Ref P, K]\n      \
                V: !Sub ['${X}', {X: !GetAtt B.Arn}]\n";
    assert_eq!(parse(text), yaml(text));
    assert_eq!(
        parse("{Ref: X, Other: 1}"),
        yaml("{Ref: X, Other: 1}"),
        "a mapping of several keys is no function"
    );
    assert_eq!(parse("{Ref: X}"), yaml("!Ref X"));
    assert_eq!(parse("!GetAtt [X, Arn]"), yaml("!GetAtt X.Arn"));
}

#[test]
#[should_panic(expected = "a literal list of strings")]
fn a_collection_from_a_parameter_is_refused() {
    parse("Resources:\n  Fn::ForEach::X: [A, !Ref List, {'${A}': {}}]\n");
}

#[test]
#[should_panic(expected = "twice in one mapping")]
fn a_loop_making_an_existing_id_is_refused() {
    parse("Resources:\n  AR: {}\n  Fn::ForEach::X: [A, [A], {'${A}R': {}}]\n");
}
